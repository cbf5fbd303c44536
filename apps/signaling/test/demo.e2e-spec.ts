import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { MasterKey } from '@sscontrol/keys';
import {
  freePort,
  runCli,
  startService,
  tempDir,
  testTokenMinter,
  type ServiceProcess,
} from '@sscontrol/testing';

/** Debian's chromium package (`apt-get install -y chromium`). */
const CHROMIUM = '/usr/bin/chromium';
/**
 * `--use-fake-ui-for-media-stream` accepts the screen picker and `--use-fake-device-for-media-stream`
 * supplies a fake screen (1280×720, 30 fps), so that `getDisplayMedia()` works headless; the rest
 * keep the browser off the network and quiet.
 */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];
/** Screenshots of the last run (overwritten each time), kept for a look after a failure. */
const SCREENSHOTS = path.join(tmpdir(), 'sscontrol-demo-e2e');

interface DemoWindow {
  sscontrolDemo: {
    frames: number;
    received: { type: string; action?: string; key?: string; x?: number; y?: number }[];
    sent: number;
    framesDecoded(): Promise<number>;
    links: {
      all(): {
        restartIce(): void;
        pc: {
          connectionState: string;
          signalingState: string;
          localDescription: { sdp: string } | null;
        };
      }[];
    } | null;
  };
}

/** In the page: whether the status line starts with `text`. */
function statusStartsWith(text: string): boolean {
  const doc = (
    globalThis as unknown as {
      document: { querySelector(s: string): { textContent: string | null } | null };
    }
  ).document;
  return doc.querySelector('#status')?.textContent?.startsWith(text) ?? false;
}

/**
 * The demo page served by the gateway at /demo/, in two headless Chromium pages: the host shares
 * its (fake) screen in an ask-host session and admits the controller from the page; the
 * controller receives video frames, and its pointer and keys over the video arrive on the host's
 * page through the WebRTC data channel — also after an ICE restart.
 */
describe('demo page: host and controller in headless Chromium', () => {
  let dir: ReturnType<typeof tempDir>;
  let gateway: ServiceProcess;
  let browser: Browser;
  let minter: Awaited<ReturnType<typeof testTokenMinter>>;
  let base: string;
  const pageErrors: string[] = [];

  async function openDemo(): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(`${base}/demo`);
    expect(page.url()).toBe(`${base}/demo/`);
    return page;
  }

  const ufrag = (sdp: string | undefined) => /a=ice-ufrag:(\S+)/.exec(sdp ?? '')?.[1];

  beforeAll(async () => {
    dir = tempDir();
    const port = await freePort();
    const env = {
      SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
      SSCONTROL_MASTER_KEY: MasterKey.generate(),
      SIGNALING_HOST: '127.0.0.1',
      SIGNALING_PORT: String(port),
      SIGNALING_CLUSTER: 'none',
      SIGNALING_DEMO: 'true',
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      TURN_SECRET_SYNC: 'none',
    };
    expect((await runCli(['init'], env, dir.path)).code).toBe(0);
    minter = await testTokenMinter(env, dir.path);
    gateway = startService('signaling', env, dir.path);
    base = `http://127.0.0.1:${port}`;
    [browser] = await Promise.all([
      chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS }),
      gateway.waitForLog((l) => String(l.msg).startsWith('signaling gateway listening')),
    ]);
    mkdirSync(SCREENSHOTS, { recursive: true });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    minter?.close();
    await gateway?.stop('SIGKILL');
    dir?.remove();
  });

  it('serves the page and the client bundle with a strict content security policy', async () => {
    const page = await fetch(`${base}/demo/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const bundle = await fetch(`${base}/demo/sscontrol-client.js`);
    expect(bundle.status).toBe(200);
    expect(bundle.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await bundle.text()).toContain('sscontrol.token.');
    expect((await fetch(`${base}/demo/..%2Fdemo.module.js`)).status).toBe(404);
    expect((await fetch(`${base}/demo/package.json`)).status).toBe(404);
  });

  it('shares a screen to a controller whose pointer and keys reach the host', async () => {
    const [host, controller] = await Promise.all([openDemo(), openDemo()]);

    // Host: token, ask-host, share the screen.
    await host.fill('#token', await minter.mint('demo-host', 'host'));
    await host.fill('#host-session', 'demo-e2e');
    await host.check('#ask-host');
    await host.click('#start');
    await host.waitForFunction(statusStartsWith, 'Sharing');

    // Controller: token, join; the host admits it from the page.
    await controller.fill('#token', await minter.mint('demo-controller', 'controller'));
    await controller.check('input[name="role"][value="controller"]');
    await controller.fill('#join-session', 'demo-e2e');
    await controller.click('#start');
    await host.click('.join-request button[data-action="accept"]', { timeout: 10_000 });
    await controller.waitForFunction(statusStartsWith, 'Joined');

    // Video frames arrive and are decoded.
    await controller.waitForFunction(
      () => (globalThis as unknown as DemoWindow).sscontrolDemo.frames > 10,
      null,
      {
        timeout: 20_000,
      },
    );
    const decoded = await controller.evaluate(() =>
      (globalThis as unknown as DemoWindow).sscontrolDemo.framesDecoded(),
    );
    expect(decoded).toBeGreaterThan(0);

    // Pointer and keys over the video reach the host's page.
    await controller.locator('#remote-video').scrollIntoViewIfNeeded();
    const video = (await controller.locator('#remote-video').boundingBox())!;
    const at = { x: video.x + video.width * 0.25, y: video.y + video.height * 0.75 };
    await controller.mouse.move(at.x - 40, at.y - 40);
    await controller.mouse.move(at.x, at.y, { steps: 5 });
    await controller.mouse.down();
    await controller.mouse.up();
    await controller.keyboard.press('KeyA');
    await host.waitForFunction(() =>
      (globalThis as unknown as DemoWindow).sscontrolDemo.received.some(
        (e) => e.type === 'key' && e.key === 'a',
      ),
    );
    const received = await host.evaluate(
      () => (globalThis as unknown as DemoWindow).sscontrolDemo.received,
    );
    const down = received.find((e) => e.type === 'pointer' && e.action === 'down')!;
    expect(down.x).toBeCloseTo(0.25, 1);
    expect(down.y).toBeCloseTo(0.75, 1);
    expect(received.some((e) => e.type === 'pointer' && e.action === 'move')).toBe(true);
    expect(await host.locator('#cursor').isVisible()).toBe(true);
    await host.screenshot({ path: path.join(SCREENSHOTS, 'host.png'), fullPage: true });
    await controller.screenshot({ path: path.join(SCREENSHOTS, 'controller.png'), fullPage: true });

    // ICE restart from the controller: new ICE credentials, video and control keep flowing.
    const before = await controller.evaluate(() => {
      const demo = (globalThis as unknown as DemoWindow).sscontrolDemo;
      const link = demo.links!.all()[0]!;
      const sdp = link.pc.localDescription?.sdp;
      link.restartIce();
      return { frames: demo.frames, sdp };
    });
    await controller.waitForFunction(
      (oldSdp) => {
        const link = (globalThis as unknown as DemoWindow).sscontrolDemo.links!.all()[0]!;
        return (
          link.pc.signalingState === 'stable' &&
          link.pc.connectionState === 'connected' &&
          link.pc.localDescription?.sdp !== oldSdp
        );
      },
      before.sdp,
      { timeout: 15_000 },
    );
    const after = await controller.evaluate(() => {
      const link = (globalThis as unknown as DemoWindow).sscontrolDemo.links!.all()[0]!;
      return link.pc.localDescription?.sdp;
    });
    expect(ufrag(after)).toBeDefined();
    expect(ufrag(after)).not.toBe(ufrag(before.sdp));
    await controller.waitForFunction(
      (frames) => (globalThis as unknown as DemoWindow).sscontrolDemo.frames > frames + 10,
      before.frames,
      { timeout: 15_000 },
    );
    await controller.keyboard.press('KeyB');
    await host.waitForFunction(() =>
      (globalThis as unknown as DemoWindow).sscontrolDemo.received.some(
        (e) => e.type === 'key' && e.key === 'b',
      ),
    );
    expect(pageErrors).toEqual([]);
  }, 60_000);
});
