import { ProtocolErrorCode, isClientError, type SignalingClient } from '@sscontrol/client';
import {
  connectPair,
  exchange,
  nodeClient,
  startGateways,
  until,
  type SocketLog,
  type TestGateways,
  type WebRtcPair,
} from './harness.js';

/**
 * libs/client in Node against one real gateway process: two werift peers negotiate through it
 * (perfect negotiation, trickle ICE) and exchange data over a data channel; ask-host admission
 * and refusal with typed errors; a controller whose socket is cut reconnects, resumes and sees
 * every event the host sent meanwhile exactly once, in order, while the data channel keeps working.
 * (ICE restarts are tested between two Chromium pages, apps/signaling/test/demo.e2e-spec.ts:
 * werift 0.24 does not resume connectivity checks after one once DTLS is up.)
 */
describe('@sscontrol/client: two werift peers through one gateway', () => {
  let gateways: TestGateways;
  const clients: SignalingClient[] = [];
  const pairs: WebRtcPair[] = [];
  let n = 0;

  async function client(
    subject: string,
    role: 'host' | 'controller',
    sockets?: SocketLog,
    options: { ttlSeconds?: number; getToken?: () => Promise<string> } = {},
  ) {
    const token = await gateways.mint(subject, role, ['*'], options.ttlSeconds);
    const c = nodeClient(
      {
        url: gateways.urls[0]!,
        token,
        ...(options.getToken ? { getToken: options.getToken } : {}),
      },
      sockets,
    );
    clients.push(c);
    await c.connect();
    return c;
  }

  beforeAll(async () => {
    gateways = await startGateways(1, { SIGNALING_JOIN_REQUEST_TIMEOUT: '5s' });
  });

  afterEach(() => {
    for (const p of pairs.splice(0)) p.close();
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    await gateways?.stop();
  });

  it('negotiates a peer connection and exchanges data over the control channel', async () => {
    const host = await client(`host-${++n}`, 'host');
    const controller = await client(`ctl-${n}`, 'controller');
    const hostCandidates: string[] = [];
    controller.on('signal.candidate', (c) => {
      if (c.candidate?.candidate) hostCandidates.push(c.candidate.candidate);
    });
    const pair = await connectPair(host, controller, `webrtc-${n}`);
    pairs.push(pair);

    expect(pair.hostLink.polite).toBe(true);
    expect(pair.controllerLink.polite).toBe(false);
    await until(
      () =>
        pair.hostLink.pc.connectionState === 'connected' &&
        pair.controllerLink.pc.connectionState === 'connected',
      'both peer connections connected',
    );
    await exchange(pair, 50);
    // Trickle ICE went through the gateway, with server-stamped senders.
    expect(hostCandidates.length).toBeGreaterThan(0);
    expect(hostCandidates.every((c) => / typ host /.test(c))).toBe(true);
    expect(host.session?.peers.map((p) => p.role)).toEqual(['controller']);
    expect(controller.session?.peers.map((p) => p.peerId)).toEqual([
      pair.hostLink.client.session!.peerId,
    ]);
  });

  it('asks the host in an ask-host session: accepted joins, refused rejects with join_denied', async () => {
    const host = await client(`host-${++n}`, 'host');
    const sessionId = `ask-${n}`;
    const opened = await host.openSession({ sessionId, joinPolicy: 'ask-host', maxPeers: 3 });
    expect(opened.joinPolicy).toBe('ask-host');
    host.on('join.requested', (r) => {
      if (r.subject.startsWith('welcome')) void host.acceptJoin(r.requestId);
      else void host.denyJoin(r.requestId, 'not you');
    });

    const welcome = await client(`welcome-${n}`, 'controller');
    const joined = await welcome.joinSession(sessionId);
    expect(joined.peers.map((p) => p.role)).toEqual(['host']);

    const refused = await client(`refused-${n}`, 'controller');
    const error = await refused.joinSession(sessionId).catch((e: unknown) => e);
    expect(isClientError(error, ProtocolErrorCode.JoinDenied)).toBe(true);
    expect(refused.session).toBeNull();

    // A request the server refuses rejects with its code; a malformed one never leaves.
    await expect(refused.joinSession('no-such-session')).rejects.toMatchObject({
      code: 'session_not_found',
    });
    await expect(
      refused.sendControl('peer-1', { deep: { a: { b: { c: { d: { e: { f: { g: {} } } } } } } } }),
    ).rejects.toMatchObject({ code: 'invalid_message' });
  });

  it('resumes after a dropped socket: each event the host sent meanwhile arrives once, in order', async () => {
    const host = await client(`host-${++n}`, 'host');
    const sockets: SocketLog = [];
    const controller = await client(`ctl-${n}`, 'controller', sockets);
    const pair = await connectPair(host, controller, `resume-${n}`);
    pairs.push(pair);
    const controllerPeer = controller.session!.peerId;
    const seen: number[] = [];
    const seqs: number[] = [];
    controller.on('control', (c) => {
      seen.push(c.payload.n as number);
      seqs.push(c.seq);
    });

    // Relayed control messages before, during and after the outage.
    for (let i = 0; i < 5; i++) await host.sendControl(controllerPeer, { n: i });
    await until(() => seen.length === 5, 'the first five messages');
    const resumed = controller.next('resumed', { timeoutMs: 15_000 });
    sockets.at(-1)!.terminate();
    await until(() => controller.state === 'reconnecting', 'the client to notice the drop');
    for (let i = 5; i < 10; i++) await host.sendControl(controllerPeer, { n: i });
    const r = await resumed;
    expect(r.peers.map((p) => p.role)).toEqual(['host']);
    expect(controller.session?.peerId).toBe(controllerPeer);
    for (let i = 10; i < 15; i++) await host.sendControl(controllerPeer, { n: i });
    await until(() => seen.length >= 15, 'all fifteen messages');

    expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => i));
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(sockets).toHaveLength(2);
    // The media path did not depend on the signaling socket.
    await exchange(pair, 10, 'after-resume');
  });

  it('refreshes its token on token.expiring and outlives it; without getToken it stops at 4403', async () => {
    const subject = `refresh-${++n}`;
    let fresh = 0;
    const refreshing = await client(subject, 'host', undefined, {
      ttlSeconds: 3,
      getToken: () => {
        fresh++;
        return gateways.mint(subject, 'host', ['*'], 600);
      },
    });
    const expiring = await client(`expiring-${n}`, 'host', undefined, { ttlSeconds: 3 });
    const closed = expiring.next('closed', { timeoutMs: 15_000 });
    await refreshing.next('token.refreshed', { timeoutMs: 5_000 });
    expect(fresh).toBe(1);

    const { code, error } = await closed;
    expect(code).toBe(4403);
    expect(error?.closeCode).toBe(4403);
    expect(expiring.state).toBe('closed');
    // Past the first token's expiry, the refreshed connection still works.
    await new Promise((r) => setTimeout(r, 1000));
    expect(refreshing.state).toBe('open');
    await expect(refreshing.openSession({ sessionId: `refreshed-${n}` })).resolves.toMatchObject({
      sessionId: `refreshed-${n}`,
    });
  });

  it('after 4403 with getToken, reconnects with a fresh token and resumes its session', async () => {
    const subject = `late-${++n}`;
    const slowToken = async () => {
      // Too slow to refresh before the first token expires.
      await new Promise((r) => setTimeout(r, 2500));
      return gateways.mint(subject, 'host', ['*'], 600);
    };
    const host = await client(subject, 'host', undefined, { ttlSeconds: 2, getToken: slowToken });
    const opened = await host.openSession({ sessionId: `late-${n}` });
    const reconnecting = await host.next('reconnecting', { timeoutMs: 10_000 });
    expect(reconnecting.closeCode).toBe(4403);
    const resumed = await host.next('resumed', { timeoutMs: 15_000 });
    expect(resumed).toMatchObject({ sessionId: opened.sessionId, peerId: opened.peerId });
    expect(host.state).toBe('open');
  });
});
