import type { WebSocket } from 'ws';
import type { VerifiedClientToken } from '@sscontrol/keys';
import type { ProtocolErrorCode, ServerMessage } from '@sscontrol/protocol';
import type { PeerRole } from '../cluster/state.js';

/** The session membership a connection holds. */
export interface BoundPeer {
  readonly peerId: string;
  readonly sessionId: string;
  readonly role: PeerRole;
}

/** A join request the connection waits on (an `ask-host` session). */
export interface PendingJoin {
  readonly requestId: string;
  readonly sessionId: string;
  readonly replyTo: string;
  readonly timer: NodeJS.Timeout;
}

/** Why the server closed a connection, when it did (decides what happens to its peer). */
export type ServerCloseReason =
  | 'key_revoked'
  | 'token_revoked'
  | 'token_expired'
  | 'heartbeat_timeout'
  | 'rate_limited'
  | 'replaced'
  | 'server_draining'
  | 'lockdown'
  | 'ip_banned';

/**
 * One authenticated WebSocket: its token, its session membership, and the delivery of its
 * sequenced events — each `seq` exactly once and in order, whether it comes live, from the
 * mailbox after a resume, or both at once.
 */
export class Connection {
  lastSeen = Date.now();
  peer: BoundPeer | null = null;
  pendingJoin: PendingJoin | null = null;
  closedBecause: ServerCloseReason | null = null;
  expiringSent = false;
  /** Highest seq sent to the client. */
  sentSeq = 0;
  /** Highest seq the client acknowledged (`ping.ack`). */
  ackedSeq = 0;
  /** While a resume replays the mailbox, live events wait here. */
  private held: Map<number, string> | null = null;
  /** Peers that sent this connection an offer not yet answered (an answer needs one). */
  readonly offersFrom = new Set<string>();
  /** Messages are handled one at a time, in order. */
  queue: Promise<void> = Promise.resolve();
  private corked = false;
  /**
   * Request ids queued or being handled (a duplicate while pending is `out_of_order`; none: a relay
   * may take the synchronous path).
   */
  readonly pendingIds = new Set<string>();
  /** ws refused a frame over the size limit (and closed the connection, 1009). */
  frameTooLarge = false;

  constructor(
    readonly id: string,
    readonly socket: WebSocket,
    public token: VerifiedClientToken,
    readonly ip: string,
    readonly openedAt: number,
    readonly resumeToken: string,
    readonly resumeHash: string,
    readonly release: () => void,
  ) {}

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  send(message: ServerMessage): void {
    this.sendRaw(JSON.stringify(message));
  }

  /**
   * Sends a frame. Frames sent within one turn of the event loop leave in one write: the TCP
   * socket is corked until the turn ends (under load a socket gets acks and relayed events in
   * bursts; one system call each would cost more than the rest of the relay).
   */
  sendRaw(frame: string): void {
    if (!this.open) return;
    const tcp = (this.socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (tcp && !this.corked) {
      this.corked = true;
      tcp.cork();
      process.nextTick(() => {
        this.corked = false;
        tcp.uncork();
      });
    }
    this.socket.send(frame);
  }

  ack(id: string): void {
    this.sendRaw(`{"event":"ack","data":{"id":${JSON.stringify(id)}}}`);
  }

  error(id: string | undefined, code: ProtocolErrorCode, message: string): void {
    this.send({
      event: 'error',
      data: id === undefined ? { code, message } : { id, code, message },
    });
  }

  close(code: number, reason: string): void {
    if (this.socket.readyState === this.socket.CLOSED) return;
    this.socket.close(code, reason);
  }

  /**
   * A sequenced event for this connection's peer. Sent when it is the next one; older ones are
   * duplicates (already sent) and dropped; a later one waits while a replay is running, and
   * otherwise means events were skipped, which `fill` repairs from the mailbox.
   */
  deliver(seq: number, frame: string, fill: (afterSeq: number) => void): void {
    if (seq <= this.sentSeq) return;
    if (this.held) {
      this.held.set(seq, frame);
      return;
    }
    if (seq !== this.sentSeq + 1) {
      this.held = new Map([[seq, frame]]);
      fill(this.sentSeq);
      return;
    }
    this.emit(seq, frame);
  }

  /** Starts a replay: live events wait until {@link endReplay}. */
  beginReplay(afterSeq: number): void {
    this.sentSeq = afterSeq;
    this.ackedSeq = afterSeq;
    this.held ??= new Map();
  }

  /** Sends replayed events (in order), then the live ones that waited, skipping duplicates. */
  endReplay(entries: readonly { seq: number; frame: string }[]): void {
    for (const e of entries) if (e.seq === this.sentSeq + 1) this.emit(e.seq, e.frame);
    const held = this.held;
    this.held = null;
    if (!held) return;
    for (const seq of [...held.keys()].sort((a, b) => a - b)) {
      if (seq === this.sentSeq + 1) this.emit(seq, held.get(seq)!);
    }
  }

  private emit(seq: number, frame: string): void {
    this.sentSeq = seq;
    if (frame.startsWith('{"event":"signal.offer"')) {
      const from = /"from":"([^"]+)"/.exec(frame)?.[1];
      if (from) this.offersFrom.add(from);
    }
    this.sendRaw(frame);
  }
}
