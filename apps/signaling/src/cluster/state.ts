/**
 * The signaling state every gateway instance shares: sessions, their peers, each peer's mailbox
 * of sequenced events, resume tokens, pending join requests and the live instances. One
 * interface, two implementations with the same contract (state-contract.ts): in memory for a
 * single instance, in Redis (atomic Lua scripts) for a cluster.
 */

export type PeerRole = 'host' | 'controller';
export type JoinPolicy = 'token' | 'ask-host';

/** One connection's membership of one session. */
export interface PeerRecord {
  readonly peerId: string;
  readonly sessionId: string;
  readonly subject: string;
  readonly role: PeerRole;
  /** The connection that holds the peer now (changes on resume). */
  readonly connectionId: string;
  /** The instance that holds that connection. */
  readonly instance: string;
}

export interface SessionRecord {
  readonly sessionId: string;
  readonly hostPeerId: string;
  readonly hostSubject: string;
  readonly maxPeers: number;
  readonly joinPolicy: JoinPolicy;
}

/** A pending join request of an `ask-host` session. */
export interface JoinRequestRecord {
  /** The peer id the requester will have once admitted (also the request id). */
  readonly requestId: string;
  readonly sessionId: string;
  readonly subject: string;
  readonly role: PeerRole;
  readonly connectionId: string;
  readonly instance: string;
  /** The `session.join` request id the requester waits on. */
  readonly replyTo: string;
  /** Hash of the requester's resume token (its peer's, once admitted). */
  readonly resumeHash: string;
}

/** One sequenced event of a peer's mailbox, as the JSON frame sent to the client. */
export interface MailboxEntry {
  readonly seq: number;
  readonly frame: string;
}

/** A message from one instance to another (or to itself). */
export type InstanceMessage =
  /** A sequenced event for a peer held by this instance. */
  | {
      readonly kind: 'deliver';
      readonly peerId: string;
      readonly seq: number;
      readonly frame: string;
    }
  /** A frame for one connection (not sequenced), optionally binding it to a peer. */
  | {
      readonly kind: 'frame';
      readonly connectionId: string;
      readonly frame: string;
      readonly bind?: { readonly peerId: string; readonly sessionId: string };
      /** The join request this frame settles (`session.joined` or `error` `join_denied`). */
      readonly settles?: string;
    }
  /** Close a connection (its peer was replaced or resumed elsewhere, or removed). */
  | {
      readonly kind: 'close';
      readonly connectionId: string;
      readonly code: number;
      readonly reason: string;
      /** The peer is gone from the session: the connection must not hold it any more. */
      readonly unbind: boolean;
    };

export type JoinOutcome =
  | {
      readonly ok: true;
      readonly session: SessionRecord;
      /** The other peers, before this one joined. */
      readonly members: readonly PeerRecord[];
      /** The same subject's previous peer, removed under the `replace` policy. */
      readonly replaced: PeerRecord | null;
    }
  | { readonly ok: false; readonly reason: 'not_found' | 'full' | 'duplicate' };

export interface RemovedPeer {
  readonly peer: PeerRecord;
  readonly session: SessionRecord | null;
  /** The peers still in the session. */
  readonly remaining: readonly PeerRecord[];
}

export type ResumeOutcome =
  | {
      readonly ok: true;
      readonly peer: PeerRecord;
      /** Who held the peer before: closed with 4409 if still connected. */
      readonly previous: { readonly connectionId: string; readonly instance: string };
      readonly session: SessionRecord;
      readonly members: readonly PeerRecord[];
    }
  | { readonly ok: false; readonly reason: 'unknown' | 'subject' };

export interface SignalingState {
  readonly mode: 'memory' | 'redis';
  /** Starts receiving this instance's messages. */
  start(instance: string, onMessage: (message: InstanceMessage) => void): Promise<void>;
  close(): Promise<void>;

  /** Opens a session with its host as first peer; `exists` if the id is taken. */
  openSession(
    session: SessionRecord,
    host: PeerRecord,
    resumeHash: string,
  ): Promise<'ok' | 'exists'>;
  /** Adds a peer, atomically checking the session exists, has room, and the identity policy. */
  join(peer: PeerRecord, resumeHash: string, policy: 'replace' | 'refuse'): Promise<JoinOutcome>;
  /** Removes a peer (and its mailbox and resume token); null if it was not there. */
  remove(peerId: string): Promise<RemovedPeer | null>;
  /** Ends a session: removes it and all its peers; returns them (null if it was not open). */
  endSession(sessionId: string): Promise<PeerRecord[] | null>;
  session(
    sessionId: string,
  ): Promise<{ session: SessionRecord; members: readonly PeerRecord[] } | null>;
  peer(peerId: string): Promise<PeerRecord | null>;

  /**
   * Appends a sequenced event to a peer's mailbox and sends it to the instance that holds the
   * peer, if it is connected. Null (nothing done) when `to` is not a peer of `sessionId`.
   */
  deliver(
    to: string,
    sessionId: string,
    event: string,
    dataJson: string,
    mailboxSize: number,
  ): Promise<number | null>;
  /** Sends a message to one instance. */
  send(instance: string, message: InstanceMessage): Promise<void>;
  /** The client has the events up to `seq`: they need not be kept for a resume. */
  ack(peerId: string, seq: number): Promise<void>;
  /** The mailbox after `afterSeq`; `complete` is false when some of those were dropped. */
  readMailbox(
    peerId: string,
    afterSeq: number,
  ): Promise<{ entries: MailboxEntry[]; complete: boolean }>;

  /** The peer's connection dropped: hold its place until `until` (ms), if that connection still holds it. */
  away(peerId: string, connectionId: string, until: number): Promise<boolean>;
  /** Claims the peers whose grace ended by `now` (each claimed by one instance only). */
  expired(now: number): Promise<PeerRecord[]>;
  /**
   * Gives a peer to a new connection: the peer whose resume token hashes to `resumeHash`, if its
   * subject is `subject`; its resume token becomes `newResumeHash`.
   */
  resume(
    resumeHash: string,
    subject: string,
    newResumeHash: string,
    connectionId: string,
    instance: string,
  ): Promise<ResumeOutcome>;

  addJoinRequest(request: JoinRequestRecord, ttlMs: number): Promise<void>;
  /** Removes and returns a pending request (null if decided, withdrawn or expired). */
  takeJoinRequest(sessionId: string, requestId: string): Promise<JoinRequestRecord | null>;

  /** This instance is alive (called every few seconds). */
  beat(now: number): Promise<void>;
  /**
   * Claims an instance that has not beaten since `deadBefore` and marks its connected peers
   * away until `until`; returns the instances claimed and how many peers each had.
   */
  adoptDead(deadBefore: number, until: number): Promise<{ instance: string; peers: number }[]>;
  /** This instance stops: it is removed from the live set (its peers are marked away by the caller). */
  leaveCluster(): Promise<void>;
}
