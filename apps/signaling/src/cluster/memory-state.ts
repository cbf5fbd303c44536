import type {
  InstanceMessage,
  JoinOutcome,
  JoinRequestRecord,
  MailboxEntry,
  PeerRecord,
  RemovedPeer,
  ResumeOutcome,
  SessionRecord,
  SignalingState,
} from './state.js';

interface PeerEntry {
  record: PeerRecord;
  resumeHash: string;
  connected: boolean;
  awayUntil: number;
  seq: number;
  /** Highest seq dropped from the mailbox without an ack (0: none). */
  lost: number;
  /** The mailbox is `mailbox[head..]`: entries before `head` are acknowledged or dropped. */
  mailbox: MailboxEntry[];
  head: number;
}

interface SessionEntry {
  record: SessionRecord;
  members: Set<string>;
  requests: Map<string, { request: JoinRequestRecord; expiresAt: number }>;
}

/** The signaling state of a single instance (`SIGNALING_CLUSTER=none`): plain maps. */
export class MemoryState implements SignalingState {
  readonly mode = 'memory' as const;
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly peers = new Map<string, PeerEntry>();
  private readonly resumes = new Map<string, string>();
  private instance = '';
  private onMessage: (message: InstanceMessage) => void = () => {};

  async start(instance: string, onMessage: (message: InstanceMessage) => void): Promise<void> {
    this.instance = instance;
    this.onMessage = onMessage;
  }

  async close(): Promise<void> {}

  async openSession(
    session: SessionRecord,
    host: PeerRecord,
    resumeHash: string,
  ): Promise<'ok' | 'exists'> {
    if (this.sessions.has(session.sessionId)) return 'exists';
    this.sessions.set(session.sessionId, {
      record: session,
      members: new Set([host.peerId]),
      requests: new Map(),
    });
    this.addPeer(host, resumeHash);
    return 'ok';
  }

  async join(
    peer: PeerRecord,
    resumeHash: string,
    policy: 'replace' | 'refuse',
  ): Promise<JoinOutcome> {
    const s = this.sessions.get(peer.sessionId);
    if (!s) return { ok: false, reason: 'not_found' };
    let replaced: PeerRecord | null = null;
    for (const id of s.members) {
      const other = this.peers.get(id)!;
      if (other.record.subject === peer.subject) {
        if (policy === 'refuse') return { ok: false, reason: 'duplicate' };
        replaced = other.record;
      }
    }
    // A replaced peer's place goes to the new one.
    if (s.members.size - (replaced ? 1 : 0) >= s.record.maxPeers)
      return { ok: false, reason: 'full' };
    if (replaced) this.dropPeer(replaced.peerId);
    const members = [...s.members].map((id) => this.peers.get(id)!.record);
    s.members.add(peer.peerId);
    this.addPeer(peer, resumeHash);
    return { ok: true, session: s.record, members, replaced };
  }

  async remove(peerId: string): Promise<RemovedPeer | null> {
    const p = this.peers.get(peerId);
    if (!p) return null;
    this.dropPeer(peerId);
    const s = this.sessions.get(p.record.sessionId);
    return {
      peer: p.record,
      session: s?.record ?? null,
      remaining: s ? [...s.members].map((id) => this.peers.get(id)!.record) : [],
    };
  }

  async endSession(sessionId: string): Promise<PeerRecord[] | null> {
    const s = this.sessions.get(sessionId);
    if (!s) return null;
    this.sessions.delete(sessionId);
    const members: PeerRecord[] = [];
    for (const id of s.members) {
      const p = this.peers.get(id);
      if (!p) continue;
      members.push(p.record);
      this.peers.delete(id);
      this.resumes.delete(p.resumeHash);
    }
    return members;
  }

  async session(sessionId: string) {
    const s = this.sessions.get(sessionId);
    if (!s) return null;
    return { session: s.record, members: [...s.members].map((id) => this.peers.get(id)!.record) };
  }

  async peer(peerId: string): Promise<PeerRecord | null> {
    return this.peers.get(peerId)?.record ?? null;
  }

  async deliver(
    to: string,
    sessionId: string,
    event: string,
    dataJson: string,
    mailboxSize: number,
  ): Promise<number | null> {
    return this.deliverNow(to, sessionId, event, dataJson, mailboxSize);
  }

  /** {@link deliver}, synchronously (the gateway's fast path for relayed signals). */
  deliverNow(
    to: string,
    sessionId: string,
    event: string,
    dataJson: string,
    mailboxSize: number,
  ): number | null {
    const p = this.peers.get(to);
    if (!p || p.record.sessionId !== sessionId) return null;
    const seq = ++p.seq;
    const frame = `{"event":${JSON.stringify(event)},"seq":${seq},"data":${dataJson}}`;
    p.mailbox.push({ seq, frame });
    const kept = p.mailbox.length - p.head;
    if (kept > mailboxSize) {
      p.head += kept - mailboxSize;
      p.lost = p.mailbox[p.head - 1]!.seq;
      this.compact(p);
    }
    if (p.connected) this.onMessage({ kind: 'deliver', peerId: to, seq, frame });
    return seq;
  }

  /** Drops the mailbox entries before `head` once they are many (amortised O(1) per event). */
  private compact(p: PeerEntry): void {
    if (p.head > 64 && p.head * 2 > p.mailbox.length) {
      p.mailbox = p.mailbox.slice(p.head);
      p.head = 0;
    }
  }

  async send(instance: string, message: InstanceMessage): Promise<void> {
    if (instance === this.instance) this.onMessage(message);
  }

  async ack(peerId: string, seq: number): Promise<void> {
    this.ackNow(peerId, seq);
  }

  ackNow(peerId: string, seq: number): void {
    const p = this.peers.get(peerId);
    if (!p) return;
    while (p.head < p.mailbox.length && p.mailbox[p.head]!.seq <= seq) p.head++;
    this.compact(p);
  }

  async readMailbox(peerId: string, afterSeq: number) {
    const p = this.peers.get(peerId);
    if (!p) return { entries: [], complete: false };
    const entries: MailboxEntry[] = [];
    for (let i = p.head; i < p.mailbox.length; i++) {
      if (p.mailbox[i]!.seq > afterSeq) entries.push(p.mailbox[i]!);
    }
    return { entries, complete: afterSeq >= p.lost };
  }

  async away(peerId: string, connectionId: string, until: number): Promise<boolean> {
    const p = this.peers.get(peerId);
    if (!p || p.record.connectionId !== connectionId || !p.connected) return false;
    p.connected = false;
    p.awayUntil = until;
    return true;
  }

  async expired(now: number): Promise<PeerRecord[]> {
    const out: PeerRecord[] = [];
    for (const p of this.peers.values()) {
      if (!p.connected && p.awayUntil <= now) {
        p.awayUntil = Number.POSITIVE_INFINITY; // claimed: never returned twice
        out.push(p.record);
      }
    }
    return out;
  }

  async resume(
    resumeHash: string,
    subject: string,
    newResumeHash: string,
    connectionId: string,
    instance: string,
  ): Promise<ResumeOutcome> {
    const peerId = this.resumes.get(resumeHash);
    const p = peerId === undefined ? undefined : this.peers.get(peerId);
    if (!p || !Number.isFinite(p.awayUntil) || !this.sessions.has(p.record.sessionId))
      return { ok: false, reason: 'unknown' };
    if (p.record.subject !== subject) return { ok: false, reason: 'subject' };
    const previous = { connectionId: p.record.connectionId, instance: p.record.instance };
    this.resumes.delete(resumeHash);
    this.resumes.set(newResumeHash, p.record.peerId);
    p.resumeHash = newResumeHash;
    p.record = { ...p.record, connectionId, instance };
    p.connected = true;
    p.awayUntil = 0;
    const s = this.sessions.get(p.record.sessionId)!;
    return {
      ok: true,
      peer: p.record,
      previous,
      session: s.record,
      members: [...s.members]
        .filter((id) => id !== p.record.peerId)
        .map((id) => this.peers.get(id)!.record),
    };
  }

  async addJoinRequest(request: JoinRequestRecord, ttlMs: number): Promise<void> {
    this.sessions
      .get(request.sessionId)
      ?.requests.set(request.requestId, { request, expiresAt: Date.now() + ttlMs });
  }

  async takeJoinRequest(sessionId: string, requestId: string) {
    const s = this.sessions.get(sessionId);
    const r = s?.requests.get(requestId);
    if (!s || !r) return null;
    s.requests.delete(requestId);
    return r.expiresAt > Date.now() ? r.request : null;
  }

  async beat(): Promise<void> {}
  async adoptDead(): Promise<{ instance: string; peers: number }[]> {
    return [];
  }
  async leaveCluster(): Promise<void> {}

  private addPeer(record: PeerRecord, resumeHash: string): void {
    this.peers.set(record.peerId, {
      record,
      resumeHash,
      connected: true,
      awayUntil: 0,
      seq: 0,
      lost: 0,
      mailbox: [],
      head: 0,
    });
    this.resumes.set(resumeHash, record.peerId);
  }

  private dropPeer(peerId: string): void {
    const p = this.peers.get(peerId);
    if (!p) return;
    this.peers.delete(peerId);
    this.resumes.delete(p.resumeHash);
    this.sessions.get(p.record.sessionId)?.members.delete(peerId);
  }
}
