import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MasterKey } from '@sscontrol/keys';
import {
  createTestPostgresSchema,
  freePort,
  runCli,
  startService,
  tempDir,
  testTokenMinter,
  TestSignalingClient,
  type ServiceProcess,
  type TestPostgresSchema,
} from '@sscontrol/testing';

const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Two (then three) gateway processes sharing Redis and a PostgreSQL event store: a peer on one
 * reaches a peer on the other; a client resumes on another instance; a killed instance's peers
 * are adopted by the survivors and their partners told after the grace window; SIGTERM drains
 * (4100) and exits 0; and with the event store stopped every session action is refused.
 */
describe('signaling gateway: several instances through Redis', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: TestPostgresSchema;
  let env: Record<string, string>;
  let minter: Awaited<ReturnType<typeof testTokenMinter>>;
  const gateways: ServiceProcess[] = [];
  const urls: string[] = [];
  const clients: TestSignalingClient[] = [];
  let redis: Redis;
  let n = 0;

  async function startGateway(name: string): Promise<string> {
    const port = await freePort();
    const g = startService(
      'signaling',
      { ...env, SIGNALING_PORT: String(port), SSCONTROL_INSTANCE_ID: name },
      dir.path,
    );
    gateways.push(g);
    await g.waitForLog((l) => String(l.msg).startsWith('signaling gateway listening'));
    const url = `ws://127.0.0.1:${port}/ws`;
    urls.push(url);
    return url;
  }

  async function connect(url: string, subject: string, role: 'host' | 'controller') {
    const token = await minter.mint(subject, role);
    const { client, welcome } = await TestSignalingClient.welcome(url, token);
    clients.push(client);
    return { client, welcome };
  }

  beforeAll(async () => {
    dir = tempDir();
    db = await createTestPostgresSchema();
    redis = new Redis(REDIS_URL);
    env = {
      SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
      SSCONTROL_MASTER_KEY: MasterKey.generate(),
      SIGNALING_HOST: '127.0.0.1',
      SIGNALING_CLUSTER: 'redis',
      SIGNALING_HEARTBEAT: '1s',
      SIGNALING_RESUME_GRACE: '4s',
      SIGNALING_DRAIN_TIMEOUT: '2s',
      REDIS_URL,
      EVENT_STORE: 'postgres',
      EVENT_STORE_POSTGRES_URL: db.url,
      EVENT_STORE_POSTGRES_SCHEMA: db.schema,
      TURN_SECRET_SYNC: 'none',
    };
    expect((await runCli(['init'], env, dir.path)).code).toBe(0);
    minter = await testTokenMinter(env, dir.path);
    await startGateway(`gw-a-${randomUUID().slice(0, 8)}`);
    await startGateway(`gw-b-${randomUUID().slice(0, 8)}`);
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    minter?.close();
    await Promise.all(gateways.map((g) => g.stop('SIGKILL')));
    const keys = await redis.keys('sscontrol:sig:*');
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
    await db?.drop();
    dir.remove();
  });

  it('relays between peers on different instances, in order', async () => {
    const sessionId = `x-${++n}`;
    const host = await connect(urls[0]!, 'host-x', 'host');
    const opened = await host.client.request('session.open', { sessionId });
    const ctl = await connect(urls[1]!, 'ctl-x', 'controller');
    expect(ctl.welcome.instance).not.toBe(host.welcome.instance);
    const joined = await ctl.client.request('session.join', { sessionId });
    expect(joined.data.peers).toEqual([
      { peerId: opened.data.peerId, subject: 'host-x', role: 'host' },
    ]);
    await host.client.waitFor((f) => f.event === 'peer.joined');
    for (let i = 1; i <= 50; i++) {
      ctl.client.send('control', { to: opened.data.peerId, payload: { i } });
    }
    await host.client.waitFor(
      (f) => f.event === 'control' && (f.data.payload as { i: number }).i === 50,
    );
    expect(
      host.client
        .sequenced()
        .filter((f) => f.event === 'control')
        .map((f) => (f.data.payload as { i: number }).i),
    ).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(
      host.client
        .sequenced()
        .every((f) => f.data.from === undefined || f.data.from === joined.data.peerId),
    ).toBe(true);
  });

  it('resumes on another instance with the events missed meanwhile', async () => {
    const sessionId = `r-${++n}`;
    const host = await connect(urls[0]!, 'host-r', 'host');
    const opened = await host.client.request('session.open', { sessionId });
    const ctl = await connect(urls[0]!, 'ctl-r', 'controller');
    const joined = await ctl.client.request('session.join', { sessionId });
    ctl.client.drop();
    await new Promise((r) => setTimeout(r, 300));
    await host.client.request('control', { to: joined.data.peerId, payload: { k: 'a' } });
    await host.client.request('control', { to: joined.data.peerId, payload: { k: 'b' } });
    const back = await connect(urls[1]!, 'ctl-r', 'controller');
    const resumed = await back.client.request('session.resume', {
      resumeToken: ctl.welcome.resumeToken,
      lastSeq: 0,
    });
    expect(resumed.data).toMatchObject({ peerId: joined.data.peerId, redelivered: 2 });
    await back.client.waitFor(
      (f) => f.event === 'control' && (f.data.payload as { k: string }).k === 'b',
    );
    // And it is reachable on its new instance.
    await host.client.request('control', { to: joined.data.peerId, payload: { k: 'c' } });
    await back.client.waitFor(
      (f) => f.event === 'control' && (f.data.payload as { k: string }).k === 'c',
    );
    expect(back.client.sequenced().map((f) => (f.data.payload as { k: string }).k)).toEqual([
      'a',
      'b',
      'c',
    ]);
    expect(opened.event).toBe('session.opened');
  });

  it('when an instance dies, the survivors hold its peers for the grace window, then tell their partners', async () => {
    const url = await startGateway(`gw-c-${randomUUID().slice(0, 8)}`);
    const doomed = gateways.at(-1)!;
    const sessionId = `d-${++n}`;
    const host = await connect(urls[0]!, 'host-d', 'host');
    await host.client.request('session.open', { sessionId, maxPeers: 3 });
    const ctl = await connect(url, 'ctl-d', 'controller');
    const joined = await ctl.client.request('session.join', { sessionId });
    expect(await doomed.stop('SIGKILL')).toBe('SIGKILL');
    const left = await host.client.waitFor((f) => f.event === 'peer.left', 25_000);
    expect(left.data).toMatchObject({ peerId: joined.data.peerId, reason: 'resume-expired' });
    const adopted = gateways
      .slice(0, 2)
      .flatMap((g) => g.logs)
      .find((l) => String(l.msg).includes('stopped beating'));
    expect(adopted).toBeDefined();
  }, 40_000);

  it('drains on SIGTERM: clients are told to reconnect elsewhere (4100), resume there, and it exits 0', async () => {
    const url = await startGateway(`gw-d-${randomUUID().slice(0, 8)}`);
    const draining = gateways.at(-1)!;
    const sessionId = `t-${++n}`;
    const host = await connect(urls[0]!, 'host-t', 'host');
    await host.client.request('session.open', { sessionId });
    const ctl = await connect(url, 'ctl-t', 'controller');
    const joined = await ctl.client.request('session.join', { sessionId });
    const exit = draining.stop('SIGTERM');
    expect(await ctl.client.waitClosed()).toBe(4100);
    expect(await exit).toBe(0);
    const back = await connect(urls[1]!, 'ctl-t', 'controller');
    const resumed = await back.client.request('session.resume', {
      resumeToken: ctl.welcome.resumeToken,
      lastSeq: 0,
    });
    expect(resumed.data).toMatchObject({ peerId: joined.data.peerId });
    expect(host.client.frames.some((f) => f.event === 'peer.left')).toBe(false);
  });

  it('fails closed: with the event store stopped, sessions and joins are refused, and nothing is half-done', async () => {
    const host = await connect(urls[0]!, 'host-f', 'host');
    await db.query(`ALTER TABLE "${db.schema}".events RENAME TO events_stopped`);
    try {
      const sessionId = `f-${++n}`;
      const refused = await host.client.request('session.open', { sessionId }, 20_000);
      expect(refused.data).toMatchObject({ code: 'audit_unavailable' });
      // A new connection is refused too (4503).
      const token = await minter.mint('late', 'controller');
      const late = await TestSignalingClient.connect(urls[1]!, token);
      expect(await late.waitClosed(20_000)).toBe(4503);
    } finally {
      await db.query(`ALTER TABLE "${db.schema}".events_stopped RENAME TO events`);
    }
    // Back: the same id opens (the refused open left nothing behind).
    const sessionId = `f-${n}`;
    const opened = await host.client.request('session.open', { sessionId }, 20_000);
    expect(opened.event).toBe('session.opened');
  }, 60_000);
});
