import path from 'node:path';
import { RTCPeerConnection } from 'werift';
import WebSocket from 'ws';
import { MasterKey } from '@sscontrol/keys';
import {
  freePort,
  runCli,
  startService,
  tempDir,
  testTokenMinter,
  type ServiceProcess,
} from '@sscontrol/testing';
import {
  PeerLinks,
  SignalingClient,
  type ControlChannel,
  type ControlPayload,
  type PeerLink,
  type PeerLinksOptions,
  type SignalingClientOptions,
} from '@sscontrol/client';

/** Gateway processes of one test file, sharing a data directory, master key and key ring. */
export interface TestGateways {
  readonly env: Record<string, string>;
  readonly dir: string;
  readonly urls: string[];
  readonly processes: ServiceProcess[];
  mint(
    subject: string,
    role: 'host' | 'controller',
    sessions?: readonly string[],
    ttlSeconds?: number,
  ): Promise<string>;
  /** Starts one more instance with the same settings. */
  start(name: string): Promise<string>;
  stop(): Promise<void>;
}

/**
 * Starts `instances` gateways from dist/ after `sscontrol init` (a file key ring every instance
 * and the test's token minter read), with short heartbeat and resume windows.
 */
export async function startGateways(
  instances: number,
  extraEnv: Record<string, string> = {},
): Promise<TestGateways> {
  const dir = tempDir('sscontrol-client-e2e-');
  const env: Record<string, string> = {
    SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
    SSCONTROL_MASTER_KEY: MasterKey.generate(),
    SIGNALING_HOST: '127.0.0.1',
    SIGNALING_CLUSTER: 'none',
    SIGNALING_HEARTBEAT: '2s',
    SIGNALING_RESUME_GRACE: '10s',
    REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    TURN_SECRET_SYNC: 'none',
    ...extraEnv,
  };
  const init = await runCli(['init'], env, dir.path);
  if (init.code !== 0) throw new Error(`sscontrol init → ${init.code}\n${init.stderr}`);
  const minter = await testTokenMinter(env, dir.path);
  const processes: ServiceProcess[] = [];
  const urls: string[] = [];
  const start = async (name: string) => {
    const port = await freePort();
    const p = startService(
      'signaling',
      { ...env, SIGNALING_PORT: String(port), SSCONTROL_INSTANCE_ID: name },
      dir.path,
    );
    processes.push(p);
    await p.waitForLog((l) => String(l.msg).startsWith('signaling gateway listening'));
    const url = `ws://127.0.0.1:${port}/ws`;
    urls.push(url);
    return url;
  };
  for (let i = 0; i < instances; i++) await start(`gw-${String.fromCharCode(97 + i)}`);
  return {
    env,
    dir: dir.path,
    urls,
    processes,
    start,
    mint: (subject, role, sessions = ['*'], ttlSeconds) =>
      minter.mint(subject, role, sessions, ttlSeconds),
    async stop() {
      minter.close();
      await Promise.all(processes.map((p) => p.stop('SIGKILL')));
      dir.remove();
    },
  };
}

/** The real `ws` sockets a client opened, newest last (a test drops one to simulate a network cut). */
export type SocketLog = WebSocket[];

/** A {@link SignalingClient} over the `ws` package that records the sockets it opens. */
export function nodeClient(
  options: Omit<SignalingClientOptions, 'WebSocket'>,
  sockets: SocketLog = [],
): SignalingClient {
  class RecordingWebSocket extends WebSocket {
    constructor(url: string, protocols: string[]) {
      super(url, protocols, { maxPayload: 66 * 1024 });
      sockets.push(this);
    }
  }
  return new SignalingClient({
    ...options,
    WebSocket: RecordingWebSocket,
  });
}

/** {@link PeerLinks} with werift's `RTCPeerConnection`. */
export function weriftLinks(
  client: SignalingClient,
  options: Omit<PeerLinksOptions, 'RTCPeerConnection'> = {},
): PeerLinks {
  return new PeerLinks(client, { ...options, RTCPeerConnection });
}

/** Polls `check` until it returns true, or rejects after `timeoutMs`. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A host and a controller connected over WebRTC, each with the other's control channel. */
export interface WebRtcPair {
  readonly sessionId: string;
  readonly host: SignalingClient;
  readonly controller: SignalingClient;
  readonly hostLinks: PeerLinks;
  readonly controllerLinks: PeerLinks;
  readonly hostLink: PeerLink;
  readonly controllerLink: PeerLink;
  readonly hostChannel: ControlChannel;
  readonly controllerChannel: ControlChannel;
  /** Control messages each side received on the data channel, in order. */
  readonly hostReceived: ControlPayload[];
  readonly controllerReceived: ControlPayload[];
  close(): void;
}

/**
 * Opens a session on `host`, joins it with `controller`, and lets the two negotiate a werift
 * peer connection through the gateway(s); resolves once the control channel is open on both.
 */
export async function connectPair(
  host: SignalingClient,
  controller: SignalingClient,
  sessionId: string,
  linkOptions: Omit<PeerLinksOptions, 'RTCPeerConnection' | 'onLink'> = {},
): Promise<WebRtcPair> {
  const hostReceived: ControlPayload[] = [];
  const controllerReceived: ControlPayload[] = [];
  const hostLinks = weriftLinks(host, linkOptions);
  const controllerLinks = weriftLinks(controller, {
    ...linkOptions,
    onLink: (link) => link.createControlChannel(),
  });
  const hostChannel = new Promise<ControlChannel>((resolve) =>
    hostLinks.on('link', (link) =>
      link.on('control', (channel) => {
        channel.on('message', (m) => hostReceived.push(m));
        resolve(channel);
      }),
    ),
  );
  await host.openSession({ sessionId });
  await controller.joinSession(sessionId);
  const controllerLink = controllerLinks.all()[0];
  if (!controllerLink) throw new Error('the controller has no link to the host');
  const controllerChannel = controllerLink.control!;
  controllerChannel.on('message', (m) => controllerReceived.push(m));
  const [opened] = await Promise.all([
    hostChannel,
    controllerChannel.isOpen
      ? Promise.resolve()
      : controllerChannel.next('open', { timeoutMs: 15_000 }),
  ]);
  await until(() => opened.isOpen, 'the host side of the control channel to open');
  const hostLink = hostLinks.all()[0]!;
  return {
    sessionId,
    host,
    controller,
    hostLinks,
    controllerLinks,
    hostLink,
    controllerLink,
    hostChannel: opened,
    controllerChannel,
    hostReceived,
    controllerReceived,
    close() {
      hostLinks.close();
      controllerLinks.close();
    },
  };
}

/** Sends `count` pointer events each way and waits until both sides have them all, in order. */
export async function exchange(pair: WebRtcPair, count = 20, tag = 'x'): Promise<void> {
  const fromController = Array.from({ length: count }, (_, n) => ({
    type: 'pointer',
    action: 'move',
    x: n / count,
    y: 0.5,
    n,
    tag,
  }));
  const fromHost = fromController.map(({ n }) => ({ type: 'echo', n, tag }));
  const hostBefore = pair.hostReceived.length;
  const controllerBefore = pair.controllerReceived.length;
  for (const m of fromController) pair.controllerChannel.send(m);
  for (const m of fromHost) pair.hostChannel.send(m);
  await until(
    () =>
      pair.hostReceived.length >= hostBefore + count &&
      pair.controllerReceived.length >= controllerBefore + count,
    `${count} data channel messages each way`,
  );
  expectOrdered(pair.hostReceived.slice(hostBefore), fromController);
  expectOrdered(pair.controllerReceived.slice(controllerBefore), fromHost);
}

function expectOrdered(got: ControlPayload[], sent: ControlPayload[]): void {
  const a = JSON.stringify(got);
  const b = JSON.stringify(sent);
  if (a !== b) throw new Error(`data channel messages differ:\n got ${a}\nsent ${b}`);
}
