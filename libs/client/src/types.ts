import type { ServerMessageOf } from '@sscontrol/protocol';
import type { BackoffOptions } from './backoff.js';
import type { ClientError } from './client.errors.js';

// ---------------------------------------------------------------------------------------------
// Platform objects. Browsers and Node libraries (`ws`, `werift`) differ in their type
// declarations but share this surface. Event handler properties take `never` so that either
// side's own handler types can be assigned; the client only ever writes them.
// ---------------------------------------------------------------------------------------------

/** The part of a WebSocket (browser `WebSocket`, Node `ws`) that the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  /** The subprotocol the server chose. */
  readonly protocol: string;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** A WebSocket constructor: the browser's `WebSocket`, or the `ws` package's default export in Node. */
export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** `RTCSessionDescriptionInit`. */
export interface SessionDescriptionInit {
  readonly type: 'offer' | 'answer' | 'pranswer' | 'rollback';
  readonly sdp?: string;
}

/** `RTCIceCandidateInit` (what `RTCIceCandidate.toJSON()` gives). */
export interface IceCandidateInit {
  readonly candidate: string;
  readonly sdpMid?: string | null;
  readonly sdpMLineIndex?: number | null;
  readonly usernameFragment?: string | null;
}

/** The part of an `RTCDataChannel` that {@link ControlChannel} uses. */
export interface DataChannelLike {
  readonly label: string;
  readonly readyState: string;
  onopen: ((event: never) => void) | null | undefined;
  onclose: ((event: never) => void) | null | undefined;
  onmessage: ((event: never) => void) | null | undefined;
  send(data: string): void;
  close(): void;
}

/** The part of an `RTCPeerConnection` (browser, or `werift` in Node) that {@link PeerLink} uses. */
export interface PeerConnectionLike {
  readonly signalingState: string;
  readonly connectionState: string;
  readonly iceConnectionState: string;
  readonly localDescription: { readonly type: string; readonly sdp: string } | null;
  readonly remoteDescription: { readonly type: string; readonly sdp: string } | null;
  createOffer(options?: { iceRestart?: boolean }): Promise<SessionDescriptionInit>;
  setLocalDescription(description?: SessionDescriptionInit): Promise<unknown>;
  setRemoteDescription(description: SessionDescriptionInit): Promise<unknown>;
  addIceCandidate(candidate?: IceCandidateInit | null): Promise<unknown>;
  createDataChannel(label: string, options?: { ordered?: boolean }): DataChannelLike;
  getConfiguration?(): Record<string, unknown>;
  setConfiguration?(configuration: Record<string, unknown>): unknown;
  close(): unknown;
  onnegotiationneeded: ((event: never) => void) | null | undefined;
  onicecandidate: ((event: never) => void) | null | undefined;
  ontrack: ((event: never) => void) | null | undefined;
  ondatachannel: ((event: never) => void) | null | undefined;
  onconnectionstatechange: ((event: never) => void) | null | undefined;
  oniceconnectionstatechange: ((event: never) => void) | null | undefined;
  onsignalingstatechange: ((event: never) => void) | null | undefined;
}

/** What a peer connection is created with: the session's ICE servers and the caller's extras. */
export interface PeerConnectionConfig extends Record<string, unknown> {
  readonly iceServers: IceServer[];
}

/**
 * An `RTCPeerConnection` constructor: the browser's global, or `werift`'s in Node. Its instances
 * are used through {@link PeerConnectionLike}.
 */
export type PeerConnectionConstructor = new (configuration: PeerConnectionConfig) => object;

// ---------------------------------------------------------------------------------------------
// Protocol data as the client hands it out
// ---------------------------------------------------------------------------------------------

/** An `RTCIceServer` with TURN REST credentials, as the gateway hands them out. */
export type IceServer = ServerMessageOf<'session.opened'>['data']['iceServers'][number];
/** A peer of the session: `{peerId, subject, role}`. */
export type PeerInfo = ServerMessageOf<'session.joined'>['data']['peers'][number];
export type Role = PeerInfo['role'];
export type JoinPolicy = ServerMessageOf<'session.opened'>['data']['joinPolicy'];
export type WelcomeData = ServerMessageOf<'welcome'>['data'];
export type SessionOpenedData = ServerMessageOf<'session.opened'>['data'];
export type SessionJoinedData = ServerMessageOf<'session.joined'>['data'];
export type SessionResumedData = ServerMessageOf<'session.resumed'>['data'];
export type TurnCredentialsData = ServerMessageOf<'turn.credentials'>['data'];
export type ControlPayload = ServerMessageOf<'control'>['data']['payload'];

/** Server events that carry `seq`: delivered once each, in order, across reconnects. */
export type SequencedEvent =
  | 'peer.joined'
  | 'peer.left'
  | 'join.requested'
  | 'join.denied'
  | 'session.ended'
  | 'signal.offer'
  | 'signal.answer'
  | 'signal.candidate'
  | 'control';

/** A sequenced event's `data`, with its `seq`. */
export type Sequenced<E extends SequencedEvent> = ServerMessageOf<E>['data'] & {
  readonly seq: number;
};

/** The connection's state. */
export type ConnectionState =
  /** Not connected yet (`connect()` not called). */
  | 'idle'
  /** `connect()`: the first connection is being made. */
  | 'connecting'
  /** Connected (`welcome` received) and, if in a session, holding it. */
  | 'open'
  /** The connection dropped: reconnecting and resuming the session. Requests are refused. */
  | 'reconnecting'
  /** Closed for good (`close()`, or a close code after which reconnecting cannot help). */
  | 'closed';

/** The session the connection is in. */
export interface SessionState {
  readonly sessionId: string;
  /** This connection's peer id in the session. */
  readonly peerId: string;
  /** This client's role (from its token). */
  readonly role: Role;
  /** Whether this client opened the session. */
  readonly opened: boolean;
  readonly maxPeers: number;
  /** Known when this client opened the session. */
  readonly joinPolicy: JoinPolicy | undefined;
  /** The other peers. */
  readonly peers: readonly PeerInfo[];
  /** For `new RTCPeerConnection({iceServers})`; refreshed by `turn.credentials`. */
  readonly iceServers: readonly IceServer[];
}

/** Events of a {@link SignalingClient}. */
export interface SignalingClientEvents {
  /** The connection state changed. */
  state: ConnectionState;
  /** A connection (the first, or a reconnect) was accepted. */
  welcome: WelcomeData;
  /** The session changed: opened, joined, resumed, a peer came or went, left, ended (null). */
  session: SessionState | null;
  'peer.joined': Sequenced<'peer.joined'>;
  'peer.left': Sequenced<'peer.left'>;
  /** Host of an `ask-host` session: answer with `acceptJoin` / `denyJoin`. */
  'join.requested': Sequenced<'join.requested'>;
  'join.denied': Sequenced<'join.denied'>;
  'session.ended': Sequenced<'session.ended'>;
  'signal.offer': Sequenced<'signal.offer'>;
  'signal.answer': Sequenced<'signal.answer'>;
  'signal.candidate': Sequenced<'signal.candidate'>;
  control: Sequenced<'control'>;
  /** The token expires soon; with `getToken` the client refreshes it by itself. */
  'token.expiring': ServerMessageOf<'token.expiring'>['data'];
  /** `token.refresh` succeeded: reconnects use the new token. */
  'token.refreshed': { readonly token: string };
  'turn.credentials': TurnCredentialsData;
  /** The connection dropped; the next attempt follows after `delayMs`. */
  reconnecting: {
    readonly attempt: number;
    readonly delayMs: number;
    readonly closeCode: number;
    readonly closeReason: string;
  };
  /** The session was taken back after a reconnect; `redelivered` missed events follow. */
  resumed: SessionResumedData;
  /** The session could not be taken back after a reconnect. */
  'session.lost': { readonly sessionId: string; readonly error: ClientError };
  /** Something went wrong that does not close the client (an invalid frame, a failed refresh). */
  error: ClientError;
  /** The client is closed for good; `error` says why when it was not `close()`. */
  closed: { readonly code: number; readonly reason: string; readonly error?: ClientError };
}

/** Options of a {@link SignalingClient}. */
export interface SignalingClientOptions {
  /**
   * The gateway's WebSocket URL, e.g. `wss://signal.example.com/ws`; or several (instances
   * reached without a balancer): the first is used first, and each reconnect attempt moves on to
   * the next, so that a resume lands on another instance when one drains or dies.
   */
  readonly url: string | readonly string[];
  /** A client token (`sscontrol keys mint-token`, or the control API). */
  readonly token: string;
  /**
   * Gets a fresh token: called on `token.expiring` (then sent as `token.refresh`) and before
   * reconnecting with an expired one. Default: none (the connection ends when its token does).
   */
  readonly getToken?: () => Promise<string>;
  /** WebSocket constructor. Default: `globalThis.WebSocket` (browsers; Node 22+); in Node 20 pass `ws`. */
  readonly WebSocket?: WebSocketConstructor;
  /** How long a request waits for its answer, in ms. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /**
   * How long `session.join` waits: in an `ask-host` session the host has to answer first.
   * Default 120 000 (above the gateway's default join request timeout of 60 s).
   */
  readonly joinTimeoutMs?: number;
  /** How long a connection may take to be welcomed, in ms. Default 10 000. */
  readonly connectTimeoutMs?: number;
  /**
   * Reconnection after a drop: backoff delays and the most attempts in a row (default unlimited).
   * `false`: never reconnect (a drop closes the client).
   */
  readonly reconnect?: false | (BackoffOptions & { readonly maxAttempts?: number });
  /**
   * Least delay before reconnecting after the server asked to slow down (4429 rate limited, 4503
   * audit unavailable, 4423 lockdown), in ms. Default 2 000.
   */
  readonly slowDownDelayMs?: number;
}
