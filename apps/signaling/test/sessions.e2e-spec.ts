import path from 'node:path';
import { createSqliteEventStore } from '@sscontrol/event-store';
import { MasterKey } from '@sscontrol/keys';
import {
  collect,
  freePort,
  runCli,
  startService,
  tempDir,
  testTokenMinter,
  TestSignalingClient,
  type ServiceProcess,
} from '@sscontrol/testing';

/**
 * Protocol v1 against one real gateway process (single instance, SQLite): sessions, relay with a
 * server-stamped `from`, join requests, duplicate identity, leave/end, resume with exactly-once
 * redelivery, grace expiry, heartbeats, bad frames, and the audit trail of all of it.
 */
describe('signaling gateway: sessions and relay (one instance)', () => {
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string>;
  let gateway: ServiceProcess;
  let url: string;
  let minter: Awaited<ReturnType<typeof testTokenMinter>>;
  const clients: TestSignalingClient[] = [];
  let n = 0;
  const sid = () => `s-${++n}`;

  async function connect(subject: string, role: 'host' | 'controller', sessions: string[] = ['*']) {
    const token = await minter.mint(subject, role, sessions);
    const { client, welcome } = await TestSignalingClient.welcome(url, token);
    clients.push(client);
    return { client, welcome, token };
  }

  /** A host with an open session and a controller in it. */
  async function pair(sessionId = sid(), options: Record<string, unknown> = {}) {
    const host = await connect(`host-${sessionId}`, 'host');
    const opened = await host.client.request('session.open', { sessionId, ...options });
    expect(opened.event).toBe('session.opened');
    const ctl = await connect(`ctl-${sessionId}`, 'controller', [sessionId]);
    const joined = await ctl.client.request('session.join', { sessionId });
    expect(joined.event).toBe('session.joined');
    return {
      sessionId,
      host,
      ctl,
      hostPeer: opened.data.peerId as string,
      ctlPeer: joined.data.peerId as string,
    };
  }

  beforeAll(async () => {
    dir = tempDir();
    env = {
      SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
      SSCONTROL_MASTER_KEY: MasterKey.generate(),
      SIGNALING_PORT: String(await freePort()),
      SIGNALING_HOST: '127.0.0.1',
      SIGNALING_CLUSTER: 'none',
      SIGNALING_HEARTBEAT: '1s',
      SIGNALING_RESUME_GRACE: '2s',
      SIGNALING_JOIN_REQUEST_TIMEOUT: '1500ms',
      SIGNALING_MAX_PEERS: '3',
      SIGNALING_MESSAGE_RATE: '50',
      SIGNALING_MESSAGE_BURST: '20',
      SIGNALING_TOKEN_REFRESH_LEAD: '2s',
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      TURN_URIS: 'stun:127.0.0.1:3478,turn:127.0.0.1:3478?transport=udp',
      TURN_SECRET_SYNC: 'none',
    };
    const init = await runCli(['init'], env, dir.path);
    expect(init.code).toBe(0);
    minter = await testTokenMinter(env, dir.path);
    gateway = startService('signaling', env, dir.path);
    await gateway.waitForLog((l) => String(l.msg).startsWith('signaling gateway listening'));
    url = `ws://127.0.0.1:${env.SIGNALING_PORT}/ws`;
  });

  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  afterAll(async () => {
    minter?.close();
    await gateway?.stop('SIGKILL');
    dir.remove();
  });

  it('welcomes with a resume token and the heartbeat interval', async () => {
    const { welcome } = await connect('dev-1', 'host', ['s-x']);
    expect(welcome).toMatchObject({
      protocol: 'sscontrol.v1',
      subject: 'dev-1',
      role: 'host',
      sessions: ['s-x'],
      heartbeatMs: 1000,
      resumeToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown,
    });
  });

  it('opens, joins with a grant, and relays signals with the sender stamped by the server', async () => {
    const { sessionId, host, ctl, hostPeer, ctlPeer } = await pair();
    const opened = host.client.frames.find((f) => f.event === 'session.opened')!;
    expect(opened.data).toMatchObject({ sessionId, joinPolicy: 'token', maxPeers: 2 });
    // TURN REST credentials ride with the session: username = expiry:subject.
    const ice = opened.data.iceServers as { urls: string[]; username?: string }[];
    expect(ice[0]).toEqual({ urls: ['stun:127.0.0.1:3478'] });
    expect(ice[1]!.username).toMatch(new RegExp(`^\\d{10}:host-${sessionId}$`));
    const joined = ctl.client.frames.find((f) => f.event === 'session.joined')!;
    expect(joined.data.peers).toEqual([
      { peerId: hostPeer, subject: `host-${sessionId}`, role: 'host' },
    ]);
    const peerJoined = await host.client.waitFor((f) => f.event === 'peer.joined');
    expect(peerJoined).toMatchObject({ seq: 1, data: { peerId: ctlPeer, role: 'controller' } });

    expect(await host.client.request('signal.offer', { to: ctlPeer, sdp: 'v=0\r\n' })).toEqual({
      event: 'ack',
      data: { id: expect.any(String) as unknown },
    });
    const offer = await ctl.client.waitFor((f) => f.event === 'signal.offer');
    expect(offer).toEqual({
      event: 'signal.offer',
      seq: 1,
      data: { from: hostPeer, sdp: 'v=0\r\n' },
    });
    expect(
      (await ctl.client.request('signal.answer', { to: hostPeer, sdp: 'v=0\r\na' })).event,
    ).toBe('ack');
    const candidate = { candidate: 'candidate:1 1 udp 1 192.0.2.1 5000 typ host', sdpMid: '0' };
    await ctl.client.request('signal.candidate', { to: hostPeer, candidate });
    await ctl.client.request('control', { to: hostPeer, payload: { type: 'pointer', x: 1 } });
    await host.client.waitFor((f) => f.event === 'control');
    expect(host.client.sequenced().map((f) => [f.seq, f.event, f.data.from])).toEqual([
      [1, 'peer.joined', undefined],
      [2, 'signal.answer', ctlPeer],
      [3, 'signal.candidate', ctlPeer],
      [4, 'control', ctlPeer],
    ]);
    // A forged sender is refused; so is a peer outside the session, and an unsolicited answer.
    const forged = await ctl.client.request('control', {
      to: hostPeer,
      from: hostPeer,
      payload: {},
    });
    expect(forged.data).toMatchObject({ code: 'invalid_message' });
    const other = await pair();
    expect(
      (await host.client.request('control', { to: other.ctlPeer, payload: {} })).data,
    ).toMatchObject({ code: 'peer_not_found' });
    expect(
      (await ctl.client.request('signal.answer', { to: hostPeer, sdp: 'x' })).data,
    ).toMatchObject({
      code: 'out_of_order',
    });
  });

  it('refuses what the token does not grant, full sessions and taken ids', async () => {
    const sessionId = sid();
    const host = await connect('h-grants', 'host', [sessionId]);
    expect(
      (await host.client.request('session.open', { sessionId: 'elsewhere' })).data,
    ).toMatchObject({
      code: 'not_granted',
    });
    expect((await host.client.request('session.open', {})).data).toMatchObject({
      code: 'not_granted',
    });
    expect(
      (await host.client.request('session.open', { sessionId, maxPeers: 4 })).data,
    ).toMatchObject({ code: 'invalid_message' });
    expect((await host.client.request('session.open', { sessionId })).event).toBe('session.opened');
    expect((await host.client.request('session.open', { sessionId })).data).toMatchObject({
      code: 'already_in_session',
    });
    const ctlOpen = await connect('c-open', 'controller');
    expect((await ctlOpen.client.request('session.open', { sessionId: sid() })).data).toMatchObject(
      {
        code: 'not_granted',
      },
    );
    const stranger = await connect('c-stranger', 'controller', ['other']);
    expect((await stranger.client.request('session.join', { sessionId })).data).toMatchObject({
      code: 'not_granted',
    });
    const a = await connect('c-a', 'controller', [sessionId]);
    expect((await a.client.request('session.join', { sessionId })).event).toBe('session.joined');
    const b = await connect('c-b', 'controller', [sessionId]);
    expect((await b.client.request('session.join', { sessionId })).data).toMatchObject({
      code: 'session_full',
    });
    expect((await b.client.request('session.join', { sessionId: 'nope' })).data).toMatchObject({
      code: 'session_not_found',
    });
    const host2 = await connect('h-2', 'host');
    expect((await host2.client.request('session.open', { sessionId })).data).toMatchObject({
      code: 'session_exists',
    });
  });

  it('asks the host of an ask-host session, who accepts or denies; unanswered requests time out', async () => {
    const sessionId = sid();
    const host = await connect('h-ask', 'host');
    await host.client.request('session.open', { sessionId, joinPolicy: 'ask-host', maxPeers: 3 });
    // No grant needed to ask.
    const alice = await connect('alice', 'controller', ['unrelated']);
    const pending = alice.client.request('session.join', { sessionId });
    const asked = await host.client.waitFor((f) => f.event === 'join.requested');
    expect(asked.data).toMatchObject({ sessionId, subject: 'alice', role: 'controller' });
    expect(
      (await host.client.request('join.accept', { requestId: asked.data.requestId })).event,
    ).toBe('ack');
    const joined = await pending;
    expect(joined).toMatchObject({
      event: 'session.joined',
      data: { peerId: asked.data.requestId },
    });
    expect(
      (await host.client.request('join.accept', { requestId: asked.data.requestId })).data,
    ).toMatchObject({ code: 'request_not_found' });

    const bob = await connect('bob', 'controller', ['unrelated']);
    const bobJoin = bob.client.request('session.join', { sessionId });
    const bobAsked = await host.client.waitForNew('join.requested');
    await host.client.request('join.deny', { requestId: bobAsked.data.requestId, reason: 'no' });
    expect((await bobJoin).data).toMatchObject({ code: 'join_denied' });
    // Only the host decides.
    const carol = await connect('carol', 'controller', ['unrelated']);
    const carolJoin = carol.client.request('session.join', { sessionId }, 5000);
    const carolAsked = await host.client.waitForNew('join.requested');
    expect(
      (await alice.client.request('join.accept', { requestId: carolAsked.data.requestId })).data,
    ).toMatchObject({ code: 'not_host' });
    expect((await carolJoin).data).toMatchObject({ code: 'join_denied' });
    const timedOut = await host.client.waitFor(
      (f) => f.event === 'join.denied' && f.data.requestId === carolAsked.data.requestId,
    );
    expect(timedOut.data.reason).toBe('timeout');
  });

  it('replaces a duplicate identity: the old connection is closed with 4409 and the peers told', async () => {
    const { sessionId, host, ctl, ctlPeer } = await pair();
    const again = await connect(`ctl-${sessionId}`, 'controller', [sessionId]);
    const joined = await again.client.request('session.join', { sessionId });
    expect(joined.event).toBe('session.joined');
    expect(await ctl.client.waitClosed()).toBe(4409);
    const left = await host.client.waitFor((f) => f.event === 'peer.left');
    expect(left.data).toMatchObject({ peerId: ctlPeer, reason: 'replaced' });
    await host.client.waitFor(
      (f) => f.event === 'peer.joined' && f.data.peerId === joined.data.peerId,
    );
  });

  it('tells the peers when one leaves, and everyone when the host ends the session', async () => {
    const { host, ctl, ctlPeer, hostPeer } = await pair(sid(), { maxPeers: 3 });
    expect((await ctl.client.request('session.end')).data).toMatchObject({ code: 'not_host' });
    expect((await ctl.client.request('session.leave')).event).toBe('ack');
    const left = await host.client.waitFor((f) => f.event === 'peer.left');
    expect(left.data).toMatchObject({ peerId: ctlPeer, reason: 'left' });
    expect((await ctl.client.request('control', { to: hostPeer, payload: {} })).data).toMatchObject(
      {
        code: 'not_in_session',
      },
    );
    const other = await pair(sid(), { maxPeers: 3 });
    expect((await other.host.client.request('session.end')).event).toBe('ack');
    const ended = await other.ctl.client.waitFor((f) => f.event === 'session.ended');
    expect(ended.data).toMatchObject({ reason: 'host-ended' });
    expect(
      (await other.ctl.client.request('control', { to: other.hostPeer, payload: {} })).data,
    ).toMatchObject({ code: 'not_in_session' });
  });

  it('resumes a dropped peer: missed events once, in order, and the old token is spent', async () => {
    const { host, ctl, ctlPeer, sessionId } = await pair();
    const resumeToken = ctl.welcome.resumeToken as string;
    await host.client.request('control', { to: ctlPeer, payload: { n: 1 } });
    await ctl.client.waitFor((f) => f.event === 'control');
    const lastSeq = ctl.client.sequenced().at(-1)!.seq!;
    ctl.client.drop();
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 2; i <= 4; i++) {
      expect((await host.client.request('control', { to: ctlPeer, payload: { n: i } })).event).toBe(
        'ack',
      );
    }
    const back = await connect(`ctl-${sessionId}`, 'controller', [sessionId]);
    const resumed = await back.client.request('session.resume', { resumeToken, lastSeq });
    expect(resumed).toMatchObject({
      event: 'session.resumed',
      data: { sessionId, peerId: ctlPeer, redelivered: 3 },
    });
    await back.client.waitFor(
      (f) => f.event === 'control' && (f.data.payload as { n: number }).n === 4,
    );
    await host.client.request('control', { to: ctlPeer, payload: { n: 5 } });
    await back.client.waitFor(
      (f) => f.event === 'control' && (f.data.payload as { n: number }).n === 5,
    );
    expect(
      back.client.sequenced().map((f) => [f.seq, (f.data.payload as { n: number }).n]),
    ).toEqual([
      [lastSeq + 1, 2],
      [lastSeq + 2, 3],
      [lastSeq + 3, 4],
      [lastSeq + 4, 5],
    ]);
    // The host never saw the controller leave.
    expect(host.client.frames.some((f) => f.event === 'peer.left')).toBe(false);
    const thief = await connect(`ctl-${sessionId}`, 'controller', [sessionId]);
    expect(
      (await thief.client.request('session.resume', { resumeToken, lastSeq: 0 })).data,
    ).toMatchObject({ code: 'resume_failed' });
    const other = await connect('someone-else', 'controller');
    expect(
      (
        await other.client.request('session.resume', {
          resumeToken: back.welcome.resumeToken as string,
          lastSeq: 0,
        })
      ).data,
    ).toMatchObject({ code: 'resume_failed' });
  });

  it('tells the peers once the grace window passes; a host that does not come back ends the session', async () => {
    const a = await pair();
    a.ctl.client.drop();
    const left = await a.host.client.waitFor((f) => f.event === 'peer.left', 6000);
    expect(left.data).toMatchObject({ peerId: a.ctlPeer, reason: 'resume-expired' });
    const b = await pair();
    b.host.client.drop();
    const ended = await b.ctl.client.waitFor((f) => f.event === 'session.ended', 6000);
    expect(ended.data).toMatchObject({ reason: 'host-gone' });
  });

  it('closes a silent connection within two heartbeats (4408)', async () => {
    const { client } = await connect('silent', 'controller');
    // Stop reading: pings go unanswered.
    (client.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const started = Date.now();
    await new Promise<void>((resolve) => {
      const t = setInterval(() => {
        if (gateway.logs.length > 0 && Date.now() - started > 3500) {
          clearInterval(t);
          resolve();
        }
      }, 100);
    });
    (client.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    expect([4408, 1006]).toContain(await client.waitClosed(3000));
  });

  it('answers bad frames with typed errors and closes on an oversized one (1009)', async () => {
    const { client } = await connect('bad-frames', 'controller');
    client.ws.send('not json');
    expect((await client.waitFor((f) => f.event === 'error')).data).toMatchObject({
      code: 'bad_frame',
    });
    client.ws.send(JSON.stringify({ event: 'no.such', data: { id: 'x1' } }));
    expect((await client.waitFor((f) => f.data.id === 'x1')).data).toMatchObject({
      code: 'unknown_event',
    });
    expect((await client.request('session.join', { sessionId: '*' })).data).toMatchObject({
      code: 'invalid_message',
    });
    client.ws.send('x'.repeat(65 * 1024));
    expect(await client.waitClosed()).toBe(1009);
    await new Promise((r) => setTimeout(r, 200));
    const metrics = await (await fetch(`http://127.0.0.1:${env.SIGNALING_PORT}/metrics`)).text();
    expect(metrics).toMatch(/sscontrol_limit_hits_total\{limit="frame_size"\} 1/);
  });

  it('limits the message rate of a connection (rate_limited)', async () => {
    const { client } = await connect('chatty', 'controller');
    for (let i = 0; i < 60; i++) client.send('ping', { id: `p${i}` });
    // Every request is answered once: a pong, or rate_limited.
    for (let i = 0; i < 60; i++) {
      await client.waitFor((f) => f.data.id === `p${i}` || f.data.replyTo === `p${i}`);
    }
    expect(client.frames.length).toBe(61);
    const limited = client.frames.filter((f) => f.data.code === 'rate_limited');
    expect(limited.length).toBeGreaterThan(20);
    // The burst (20) and what the rate refills meanwhile got through.
    expect(client.frames.filter((f) => f.event === 'pong').length).toBeGreaterThanOrEqual(15);
  });

  it('asks for a token refresh before expiry, takes a new token, and closes an unrefreshed one (4403)', async () => {
    const short = await minter.mint('short-lived', 'controller', ['*'], 4);
    const kept = await TestSignalingClient.welcome(url, short);
    const lapsed = await TestSignalingClient.welcome(url, short);
    clients.push(kept.client, lapsed.client);
    const expiring = await kept.client.waitFor((f) => f.event === 'token.expiring', 5000);
    expect(expiring.data.tokenExpiresAt).toBe(kept.welcome.tokenExpiresAt);
    const wrong = await minter.mint('someone-else', 'controller');
    expect((await kept.client.request('token.refresh', { token: wrong })).data).toMatchObject({
      code: 'token_invalid',
    });
    expect((await kept.client.request('token.refresh', { token: 'a.b.c' })).data).toMatchObject({
      code: 'token_invalid',
    });
    const fresh = await minter.mint('short-lived', 'controller');
    expect((await kept.client.request('token.refresh', { token: fresh })).event).toBe('ack');
    expect(await lapsed.client.waitClosed(6000)).toBe(4403);
    expect((await kept.client.request('ping')).event).toBe('pong');
    expect(kept.client.closeCode).toBeNull();
  });

  it('removes the peer of a revoked token at once and tells the others (revoked)', async () => {
    const { host, ctl, ctlPeer } = await pair();
    const payload = JSON.parse(
      Buffer.from(ctl.token.split('.')[1]!, 'base64url').toString('utf8'),
    ) as { jti: string };
    const revoked = await runCli(['keys', 'revoke-token', payload.jti], env, dir.path);
    expect(revoked.code).toBe(0);
    expect(await ctl.client.waitClosed(5000)).toBe(4404);
    const left = await host.client.waitFor((f) => f.event === 'peer.left', 5000);
    expect(left.data).toMatchObject({ peerId: ctlPeer, reason: 'revoked' });
  });

  it('records every session change in the audit trail, and the trail verifies', async () => {
    const events = await (async () => {
      const store = await createSqliteEventStore({
        path: path.join(env.SSCONTROL_DATA_DIR!, 'events.db'),
      });
      try {
        return await collect(store.readAll());
      } finally {
        await store.close();
      }
    })();
    const types = new Set(events.map((e) => e.type));
    for (const t of [
      'connection.opened',
      'connection.closed',
      'connection.resumed',
      'session.opened',
      'session.peerJoined',
      'session.peerLeft',
      'session.ended',
      'session.joinRequested',
      'session.joinAccepted',
      'session.joinDenied',
      'session.turnCredentialsIssued',
    ]) {
      expect([t, types.has(t)]).toEqual([t, true]);
    }
    const text = JSON.stringify(events);
    // TURN credentials (HMACs) and resume tokens never reach the trail.
    const opened = clients.length; // keep the linter quiet about unused state
    expect(opened).toBeGreaterThanOrEqual(0);
    expect(text).not.toMatch(/"credential"/);
    const verify = await runCli(['audit', 'verify'], env, dir.path);
    expect(verify.code).toBe(0);
  });
});
