import { describe, expect, it, beforeEach, afterEach } from '@jest/globals';
import type { InstanceMessage, PeerRecord, SessionRecord, SignalingState } from './state.js';

/** What each implementation must do; run on MemoryState (unit) and RedisState (integration). */
export function describeSignalingStateContract(
  name: string,
  create: () => Promise<{
    state: SignalingState;
    other?: SignalingState;
    cleanup(): Promise<void>;
  }>,
): void {
  describe(`signaling state contract: ${name}`, () => {
    let state: SignalingState;
    let cleanup: () => Promise<void>;
    let inbox: InstanceMessage[];
    let n = 0;
    const sid = () => `s-${process.pid}-${Date.now()}-${++n}`;
    const host = (sessionId: string, peerId = `h${++n}`): PeerRecord => ({
      peerId,
      sessionId,
      subject: `host-${peerId}`,
      role: 'host',
      connectionId: `c-${peerId}`,
      instance: 'gw-a',
    });
    const peer = (sessionId: string, subject: string, peerId = `p${++n}`): PeerRecord => ({
      peerId,
      sessionId,
      subject,
      role: 'controller',
      connectionId: `c-${peerId}`,
      instance: 'gw-a',
    });
    const session = (h: PeerRecord, maxPeers = 3): SessionRecord => ({
      sessionId: h.sessionId,
      hostPeerId: h.peerId,
      hostSubject: h.subject,
      maxPeers,
      joinPolicy: 'token',
    });
    const until = async (f: () => boolean) => {
      for (let i = 0; i < 100 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
    };

    beforeEach(async () => {
      const made = await create();
      state = made.state;
      cleanup = () => made.cleanup();
      inbox = [];
      await state.start('gw-a', (m) => inbox.push(m));
    });
    afterEach(async () => {
      await state.close();
      await cleanup();
    });

    it('opens a session once', async () => {
      const h = host(sid());
      expect(await state.openSession(session(h), h, `rh-${h.peerId}`)).toBe('ok');
      const h2 = host(h.sessionId);
      expect(await state.openSession(session(h2), h2, `rh-${h2.peerId}`)).toBe('exists');
      expect(await state.session(h.sessionId)).toEqual({ session: session(h), members: [h] });
    });

    it('admits peers up to maxPeers and refuses unknown sessions', async () => {
      const h = host(sid());
      await state.openSession(session(h, 2), h, `rh-${h.peerId}`);
      const a = peer(h.sessionId, 'alice');
      expect(await state.join(a, `rh-${a.peerId}`, 'refuse')).toEqual({
        ok: true,
        session: session(h, 2),
        members: [h],
        replaced: null,
      });
      const b = peer(h.sessionId, 'bob');
      expect(await state.join(b, `rh-${b.peerId}`, 'refuse')).toEqual({
        ok: false,
        reason: 'full',
      });
      expect(await state.join(peer('nope', 'carol'), 'x', 'refuse')).toEqual({
        ok: false,
        reason: 'not_found',
      });
    });

    it('applies the duplicate-identity policy', async () => {
      const h = host(sid());
      await state.openSession(session(h, 2), h, `rh-${h.peerId}`);
      const a1 = peer(h.sessionId, 'alice');
      await state.join(a1, `rh-${a1.peerId}`, 'refuse');
      const a2 = peer(h.sessionId, 'alice');
      expect(await state.join(a2, `rh-${a2.peerId}`, 'refuse')).toEqual({
        ok: false,
        reason: 'duplicate',
      });
      // Replacing takes the old peer's place even in a full session.
      const outcome = await state.join(a2, `rh-${a2.peerId}`, 'replace');
      expect(outcome).toMatchObject({ ok: true, replaced: a1, members: [h] });
      expect(await state.peer(a1.peerId)).toBeNull();
      expect((await state.session(h.sessionId))!.members).toHaveLength(2);
    });

    it('delivers sequenced events to members only, in order, and keeps them until acked', async () => {
      const h = host(sid());
      await state.openSession(session(h), h, `rh-${h.peerId}`);
      const a = peer(h.sessionId, 'alice');
      await state.join(a, `rh-${a.peerId}`, 'refuse');
      expect(await state.deliver(a.peerId, 'other-session', 'control', '{}', 100)).toBeNull();
      expect(await state.deliver('nobody', h.sessionId, 'control', '{}', 100)).toBeNull();
      for (let i = 1; i <= 5; i++) {
        expect(await state.deliver(a.peerId, h.sessionId, 'control', `{"i":${i}}`, 100)).toBe(i);
      }
      await until(() => inbox.length >= 5);
      expect(inbox).toEqual(
        [1, 2, 3, 4, 5].map((i) => ({
          kind: 'deliver',
          peerId: a.peerId,
          seq: i,
          frame: `{"event":"control","seq":${i},"data":{"i":${i}}}`,
        })),
      );
      expect(JSON.parse((inbox[0] as { frame: string }).frame)).toEqual({
        event: 'control',
        seq: 1,
        data: { i: 1 },
      });
      await state.ack(a.peerId, 3);
      const box = await state.readMailbox(a.peerId, 2);
      expect(box.complete).toBe(true);
      expect(box.entries.map((e) => e.seq)).toEqual([4, 5]);
    });

    it('says when a mailbox lost events a resume would need', async () => {
      const h = host(sid());
      await state.openSession(session(h), h, `rh-${h.peerId}`);
      for (let i = 0; i < 6; i++) await state.deliver(h.peerId, h.sessionId, 'control', '{}', 4);
      expect((await state.readMailbox(h.peerId, 1)).complete).toBe(false);
      const box = await state.readMailbox(h.peerId, 2);
      expect(box).toMatchObject({ complete: true });
      expect(box.entries.map((e) => e.seq)).toEqual([3, 4, 5, 6]);
    });

    it('holds a dropped peer for resume, then expires it once', async () => {
      const h = host(sid());
      await state.openSession(session(h), h, `rh-${h.peerId}`);
      expect(await state.away(h.peerId, 'some-other-connection', Date.now())).toBe(false);
      expect(await state.away(h.peerId, h.connectionId, Date.now() + 60_000)).toBe(true);
      expect(await state.away(h.peerId, h.connectionId, Date.now())).toBe(false);
      // Not delivered live while away, but kept.
      await state.deliver(h.peerId, h.sessionId, 'control', '{}', 100);
      await new Promise((r) => setTimeout(r, 50));
      expect(inbox).toEqual([]);
      expect(await state.expired(Date.now())).toEqual([]);
      expect(await state.expired(Date.now() + 61_000)).toEqual([h]);
      expect(await state.expired(Date.now() + 61_000)).toEqual([]);
    });

    it('gives a peer to the connection that presents its resume token', async () => {
      const h = host(sid());
      await state.openSession(session(h), h, `rh-${h.peerId}`);
      const a = peer(h.sessionId, 'alice');
      await state.join(a, `rh-${a.peerId}`, 'refuse');
      await state.away(a.peerId, a.connectionId, Date.now() + 60_000);
      expect(await state.resume('unknown', 'alice', 'new', 'c2', 'gw-b')).toEqual({
        ok: false,
        reason: 'unknown',
      });
      expect(await state.resume(`rh-${a.peerId}`, 'mallory', 'new', 'c2', 'gw-b')).toEqual({
        ok: false,
        reason: 'subject',
      });
      const r = await state.resume(`rh-${a.peerId}`, 'alice', 'rh-new', 'c2', 'gw-b');
      expect(r).toEqual({
        ok: true,
        peer: { ...a, connectionId: 'c2', instance: 'gw-b' },
        previous: { connectionId: a.connectionId, instance: 'gw-a' },
        session: session(h),
        members: [h],
      });
      // The old token is spent; the new one works; a resumed peer is not expired.
      expect(await state.resume(`rh-${a.peerId}`, 'alice', 'x', 'c3', 'gw-a')).toMatchObject({
        ok: false,
      });
      expect(await state.expired(Date.now() + 61_000)).toEqual([]);
      expect(await state.resume('rh-new', 'alice', 'rh-3', 'c3', 'gw-a')).toMatchObject({
        ok: true,
        previous: { connectionId: 'c2', instance: 'gw-b' },
      });
    });

    it('removes peers and ends sessions', async () => {
      const h = host(sid());
      await state.openSession(session(h), h, `rh-${h.peerId}`);
      const a = peer(h.sessionId, 'alice');
      await state.join(a, `rh-${a.peerId}`, 'refuse');
      expect(await state.remove(a.peerId)).toEqual({
        peer: a,
        session: session(h),
        remaining: [h],
      });
      expect(await state.remove(a.peerId)).toBeNull();
      expect(await state.resume(`rh-${a.peerId}`, 'alice', 'n', 'c', 'gw-a')).toMatchObject({
        ok: false,
      });
      expect(await state.endSession(h.sessionId)).toEqual([h]);
      expect(await state.endSession(h.sessionId)).toBeNull();
      expect(await state.session(h.sessionId)).toBeNull();
      expect(await state.peer(h.peerId)).toBeNull();
    });

    it('hands out a join request once', async () => {
      const h = host(sid());
      await state.openSession(session(h), h, `rh-${h.peerId}`);
      const request = {
        requestId: 'jr-1',
        sessionId: h.sessionId,
        subject: 'alice',
        role: 'controller' as const,
        connectionId: 'c-9',
        instance: 'gw-a',
        replyTo: '4',
        resumeHash: 'rh-9',
      };
      await state.addJoinRequest(request, 60_000);
      expect(await state.takeJoinRequest(h.sessionId, 'jr-1')).toEqual(request);
      expect(await state.takeJoinRequest(h.sessionId, 'jr-1')).toBeNull();
      await state.addJoinRequest({ ...request, requestId: 'jr-2' }, -1);
      expect(await state.takeJoinRequest(h.sessionId, 'jr-2')).toBeNull();
    });

    it('sends instance messages to the instance', async () => {
      await state.send('gw-a', {
        kind: 'close',
        connectionId: 'c',
        code: 4409,
        reason: 'replaced',
        unbind: true,
      });
      await until(() => inbox.length > 0);
      expect(inbox).toEqual([
        { kind: 'close', connectionId: 'c', code: 4409, reason: 'replaced', unbind: true },
      ]);
    });
  });
}
