import { ClientError, ClientErrorCode } from './client.errors.js';
import { Emitter } from './emitter.js';
import { PeerLink, type IncomingSignal } from './peer-link.js';
import type { SignalingClient } from './signaling-client.js';
import type {
  PeerConnectionConstructor,
  PeerConnectionLike,
  PeerInfo,
  Role,
  SessionState,
} from './types.js';

/** Options of {@link PeerLinks}. */
export interface PeerLinksOptions {
  /** `RTCPeerConnection` constructor. Default: `globalThis.RTCPeerConnection`; in Node, werift's. */
  readonly RTCPeerConnection?: PeerConnectionConstructor;
  /**
   * Extra `RTCConfiguration` for every peer connection, besides the session's `iceServers`: e.g.
   * `{ iceTransportPolicy: 'relay' }` to force TURN. Default none.
   */
  readonly configuration?: Readonly<Record<string, unknown>>;
  /**
   * Which peers of the session to connect to. Default: a host connects to everyone, any other
   * peer to the hosts only (controllers of one screen do not connect to each other).
   */
  readonly shouldConnect?: (remote: PeerInfo, self: SessionState) => boolean;
  /**
   * Called with each new link before it negotiates: add the screen's tracks (host), open the
   * control channel (controller). Also emitted as `link`.
   */
  readonly onLink?: (link: PeerLink, remote: PeerInfo | undefined) => void;
  /** See {@link PeerLinkOptions.disconnectedTimeoutMs}. */
  readonly disconnectedTimeoutMs?: number;
}

/** Events of {@link PeerLinks}. */
export interface PeerLinksEvents {
  link: PeerLink;
  error: ClientError;
}

function defaultPeerConnection(): PeerConnectionConstructor | undefined {
  return (globalThis as { RTCPeerConnection?: PeerConnectionConstructor }).RTCPeerConnection;
}

/**
 * Who yields on an offer collision: between a host and a controller the host is polite (it serves
 * several controllers and answers what they offer); between equal roles, the lower peer id.
 */
export function isPolite(self: { role: Role; peerId: string }, remote: Partial<PeerInfo>): boolean {
  if (remote.role !== undefined && remote.role !== self.role) return self.role === 'host';
  if (remote.role === undefined) return self.role === 'host';
  return self.peerId < (remote.peerId ?? '');
}

/**
 * The peer connections of a session, one {@link PeerLink} per peer: created when the session is
 * opened or joined (for the peers already there) and when a peer joins or first signals, routed
 * the relayed offers, answers and candidates, told when the signaling session resumes, handed
 * fresh TURN credentials, and closed when their peer leaves or the session ends.
 *
 * ```ts
 * const links = new PeerLinks(client, {
 *   onLink: (link) => stream.getTracks().forEach((t) => link.pc.addTrack(t, stream)),
 * });
 * ```
 */
export class PeerLinks extends Emitter<PeerLinksEvents> {
  private readonly links = new Map<string, PeerLink>();
  private readonly Ctor: PeerConnectionConstructor;
  private readonly unsubscribe: (() => void)[];
  private sessionPeerId: string | undefined;

  constructor(
    readonly client: SignalingClient,
    private readonly options: PeerLinksOptions = {},
  ) {
    super();
    const ctor = options.RTCPeerConnection ?? defaultPeerConnection();
    if (!ctor) {
      throw new TypeError(
        'no RTCPeerConnection constructor: pass options.RTCPeerConnection (in Node: werift)',
      );
    }
    this.Ctor = ctor;
    const signal = (event: IncomingSignal) => this.route(event);
    this.unsubscribe = [
      client.on('session', (session) => this.sessionChanged(session)),
      client.on('peer.left', (p) => this.links.get(p.peerId)?.close()),
      client.on('signal.offer', (s) => signal({ event: 'signal.offer', ...s })),
      client.on('signal.answer', (s) => signal({ event: 'signal.answer', ...s })),
      client.on('signal.candidate', (s) => signal({ event: 'signal.candidate', ...s })),
      client.on('resumed', () => {
        for (const link of this.links.values()) link.resumed();
      }),
      client.on('turn.credentials', (c) => {
        for (const link of this.links.values()) link.updateIceServers(c.iceServers);
      }),
    ];
    this.sessionChanged(client.session);
  }

  /** The link to `peerId`, if there is one. */
  get(peerId: string): PeerLink | undefined {
    return this.links.get(peerId);
  }

  /** Every open link. */
  all(): PeerLink[] {
    return [...this.links.values()];
  }

  /** Closes every link and stops following the client. */
  close(): void {
    for (const off of this.unsubscribe) off();
    this.closeAll();
    this.removeAllHandlers();
  }

  private closeAll(): void {
    for (const link of [...this.links.values()]) link.close();
    this.links.clear();
  }

  private sessionChanged(session: SessionState | null): void {
    if (!session) {
      this.sessionPeerId = undefined;
      this.closeAll();
      return;
    }
    if (session.peerId !== this.sessionPeerId) {
      this.closeAll();
      this.sessionPeerId = session.peerId;
    }
    const connect = this.options.shouldConnect ?? defaultShouldConnect;
    for (const peer of session.peers) {
      if (!this.links.has(peer.peerId) && connect(peer, session)) this.create(peer.peerId, session);
    }
  }

  private route(signal: IncomingSignal): void {
    const session = this.client.session;
    if (!session) return;
    const link = this.links.get(signal.from) ?? this.create(signal.from, session);
    link?.handleSignal(signal);
  }

  private create(peerId: string, session: SessionState): PeerLink | undefined {
    const remote = session.peers.find((p) => p.peerId === peerId);
    let pc: PeerConnectionLike;
    try {
      pc = new this.Ctor({
        ...this.options.configuration,
        iceServers: [...session.iceServers],
      }) as PeerConnectionLike;
    } catch (error) {
      this.emit(
        'error',
        new ClientError(ClientErrorCode.NegotiationFailed, 'cannot create a peer connection', {
          cause: error,
        }),
      );
      return undefined;
    }
    const link = new PeerLink({
      client: this.client,
      remotePeerId: peerId,
      polite: isPolite(session, remote ?? { peerId }),
      pc,
      ...(this.options.disconnectedTimeoutMs !== undefined
        ? { disconnectedTimeoutMs: this.options.disconnectedTimeoutMs }
        : {}),
    });
    this.links.set(peerId, link);
    link.on('error', (error) => this.emit('error', error));
    link.on('closed', () => {
      if (this.links.get(peerId) === link) this.links.delete(peerId);
    });
    this.options.onLink?.(link, remote);
    this.emit('link', link);
    return link;
  }

  protected override handlerFailed(event: keyof PeerLinksEvents, error: unknown): void {
    if (event === 'error') return;
    this.emit(
      'error',
      new ClientError(ClientErrorCode.HandlerFailed, `a '${event}' handler threw`, {
        cause: error,
      }),
    );
  }
}

function defaultShouldConnect(remote: PeerInfo, self: SessionState): boolean {
  return self.role === 'host' || remote.role === 'host';
}
