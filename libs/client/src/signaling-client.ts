import {
  PROTOCOL_VERSION,
  ProtocolErrorCode,
  clientMessage,
  serverMessage,
  type ClientEvent,
  type ClientMessageOf,
  type ServerMessage,
} from '@sscontrol/protocol';
import { Backoff } from './backoff.js';
import { ClientError, ClientErrorCode, isClientError } from './client.errors.js';
import { closeAction, type CloseAction } from './close-policy.js';
import { Emitter } from './emitter.js';
import { PendingRequests, type ReplyOf } from './pending-requests.js';
import { SeqTracker } from './seq-tracker.js';
import type {
  ConnectionState,
  ControlPayload,
  IceCandidateInit,
  JoinPolicy,
  PeerInfo,
  SequencedEvent,
  SessionJoinedData,
  SessionOpenedData,
  SessionState,
  SignalingClientEvents,
  SignalingClientOptions,
  TurnCredentialsData,
  WebSocketConstructor,
  WebSocketLike,
  WelcomeData,
} from './types.js';

/** Prefix of the subprotocol that carries the token (`sscontrol.token.<jwt>`). */
export const TOKEN_SUBPROTOCOL_PREFIX = 'sscontrol.token.';

/** The `data` of request `E` without its `id` (the client assigns ids). */
export type RequestData<E extends ClientEvent> = Omit<ClientMessageOf<E>['data'], 'id'>;

/** The close code the client uses when it gives up on a connection itself. */
const CLIENT_GONE = 4000;
/** Close codes standing for "no close frame": the network went away. */
const ABNORMAL = 1006;
/** How long before a token's expiry a reconnect asks `getToken` for a new one. */
const TOKEN_EXPIRY_MARGIN_MS = 5_000;

/** Requests a connection may send while it is taking its session back. */
const ALLOWED_WHILE_RECONNECTING: ReadonlySet<ClientEvent> = new Set([
  'session.resume',
  'ping',
  'token.refresh',
]);

interface MutableSession {
  sessionId: string;
  peerId: string;
  opened: boolean;
  maxPeers: number;
  joinPolicy: JoinPolicy | undefined;
  peers: Map<string, PeerInfo>;
  iceServers: SessionState['iceServers'];
}

interface Connection {
  readonly socket: WebSocketLike;
  welcome: WelcomeData | undefined;
  heartbeat: ReturnType<typeof setInterval> | undefined;
  lastFrameAt: number;
}

function defaultWebSocket(): WebSocketConstructor | undefined {
  return (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
}

/**
 * The `exp` of a JWT in ms, read without verifying it (the gateway verifies); NaN when it cannot
 * be read. Used only to decide whether to ask `getToken` for a new token before reconnecting.
 */
function tokenExpiry(token: string): number {
  try {
    const payload = token.split('.')[1] ?? '';
    const base64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const json = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, '='))) as {
      exp?: unknown;
    };
    return typeof json.exp === 'number' ? json.exp * 1000 : NaN;
  } catch {
    return NaN;
  }
}

function textOf(data: unknown): string | undefined {
  return typeof data === 'string' ? data : undefined;
}

/**
 * A connection to the signaling gateway (protocol v1) that works in browsers and Node: it
 * authenticates with a client token, sends requests and matches their answers, keeps the
 * connection alive, refreshes its token, and after a drop reconnects and resumes its session —
 * delivering each sequenced event exactly once, in order.
 *
 * ```ts
 * const client = new SignalingClient({ url: 'wss://signal.example.com/ws', token });
 * await client.connect();
 * const { sessionId } = await client.openSession({ joinPolicy: 'ask-host' });
 * client.on('join.requested', (r) => void client.acceptJoin(r.requestId));
 * ```
 */
export class SignalingClient extends Emitter<SignalingClientEvents> {
  private readonly urls: readonly string[];
  private urlIndex = 0;
  private currentToken: string;
  private readonly getToken: (() => Promise<string>) | undefined;
  private readonly WebSocketCtor: WebSocketConstructor;
  private readonly requestTimeoutMs: number;
  private readonly joinTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly reconnectEnabled: boolean;
  private readonly maxAttempts: number;
  private readonly slowDownDelayMs: number;
  private readonly backoff: Backoff;
  private readonly pending = new PendingRequests();
  private readonly seqTracker = new SeqTracker();

  private connectionState: ConnectionState = 'idle';
  private connection: Connection | undefined;
  private lastClose = { code: ABNORMAL, reason: '' };
  private lastWelcome: WelcomeData | undefined;
  private sessionState: MutableSession | undefined;
  /** The resume token of the last connection that held the session. */
  private sessionResumeToken: string | undefined;
  private refreshing = false;
  private wakeReconnect: (() => void) | undefined;

  constructor(options: SignalingClientOptions) {
    super();
    this.urls = typeof options.url === 'string' ? [options.url] : [...options.url];
    if (this.urls.length === 0) throw new TypeError('options.url: no URL');
    this.currentToken = options.token;
    this.getToken = options.getToken;
    const ctor = options.WebSocket ?? defaultWebSocket();
    if (!ctor) {
      throw new TypeError(
        'no WebSocket constructor: pass options.WebSocket (in Node 20: the `ws` package)',
      );
    }
    this.WebSocketCtor = ctor;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.joinTimeoutMs = options.joinTimeoutMs ?? 120_000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    this.reconnectEnabled = options.reconnect !== false;
    const reconnect = options.reconnect === false ? {} : (options.reconnect ?? {});
    this.maxAttempts = reconnect.maxAttempts ?? Number.POSITIVE_INFINITY;
    this.backoff = new Backoff(reconnect);
    this.slowDownDelayMs = options.slowDownDelayMs ?? 2_000;
  }

  // -------------------------------------------------------------------------------------------
  // State
  // -------------------------------------------------------------------------------------------

  get state(): ConnectionState {
    return this.connectionState;
  }

  /** The current connection's `welcome` (the last one while reconnecting). */
  get welcome(): WelcomeData | undefined {
    return this.lastWelcome;
  }

  /** The URL of the current (or next) connection. */
  get url(): string {
    return this.urls[this.urlIndex % this.urls.length]!;
  }

  /** The token the client connects with (the latest refreshed one). */
  get token(): string {
    return this.currentToken;
  }

  /** The highest `seq` delivered in the current session (0: none). */
  get lastSeq(): number {
    return this.seqTracker.last;
  }

  /** The session this client is in, or null. */
  get session(): SessionState | null {
    const s = this.sessionState;
    if (!s || !this.lastWelcome) return null;
    return {
      sessionId: s.sessionId,
      peerId: s.peerId,
      role: this.lastWelcome.role,
      opened: s.opened,
      maxPeers: s.maxPeers,
      joinPolicy: s.joinPolicy,
      peers: [...s.peers.values()],
      iceServers: s.iceServers,
    };
  }

  // -------------------------------------------------------------------------------------------
  // Connecting and closing
  // -------------------------------------------------------------------------------------------

  /**
   * Connects and authenticates; resolves with `welcome`. Rejects with a {@link ClientError}
   * carrying the close code when the gateway refuses the connection (no retry: a first connection
   * that fails is the caller's to handle).
   */
  async connect(): Promise<WelcomeData> {
    if (this.connectionState !== 'idle') {
      throw new ClientError(ClientErrorCode.NotConnected, `connect() when ${this.connectionState}`);
    }
    this.setState('connecting');
    try {
      const welcome = await this.openConnection();
      this.setState('open');
      return welcome;
    } catch (error) {
      const e = isClientError(error)
        ? error
        : new ClientError(ClientErrorCode.ConnectionRefused, String(error), { cause: error });
      this.finish(e.closeCode ?? ABNORMAL, e.closeReason ?? e.message, e);
      throw e;
    }
  }

  /** Closes the connection for good: no reconnect; pending requests reject with `closed`. */
  close(code = 1000, reason = 'client closed'): void {
    if (this.connectionState === 'closed') return;
    const connection = this.connection;
    this.finish(code, reason, undefined);
    if (connection) {
      try {
        connection.socket.close(code, reason);
      } catch {
        // Already closing.
      }
    }
  }

  private finish(code: number, reason: string, error: ClientError | undefined): void {
    if (this.connectionState === 'closed') return;
    this.detach();
    this.setState('closed');
    this.pending.rejectAll(
      (id, event) =>
        new ClientError(
          error ? error.code : ClientErrorCode.Closed,
          `${event} (request ${id}): ${error ? error.message : 'client closed'}`,
          { requestId: id, closeCode: code, closeReason: reason },
        ),
    );
    this.wakeReconnect?.();
    this.emit('closed', { code, reason, ...(error ? { error } : {}) });
  }

  /** Forgets the current socket: its later events are ignored. */
  private detach(): Connection | undefined {
    const connection = this.connection;
    if (!connection) return undefined;
    this.connection = undefined;
    if (connection.heartbeat !== undefined) clearInterval(connection.heartbeat);
    const s = connection.socket;
    s.onopen = null;
    s.onmessage = null;
    s.onerror = null;
    // onclose stays: it is ignored once the socket is not the current one.
    return connection;
  }

  /**
   * Opens a socket and resolves with its `welcome`; rejects with the close code if it closes
   * before, or `timeout` after `connectTimeoutMs`.
   */
  private openConnection(): Promise<WelcomeData> {
    return new Promise<WelcomeData>((resolve, reject) => {
      let socket: WebSocketLike;
      try {
        socket = new this.WebSocketCtor(this.url, [
          PROTOCOL_VERSION,
          `${TOKEN_SUBPROTOCOL_PREFIX}${this.currentToken}`,
        ]);
      } catch (error) {
        reject(
          new ClientError(ClientErrorCode.ConnectionRefused, `cannot open ${this.url}`, {
            cause: error,
          }),
        );
        return;
      }
      const connection: Connection = {
        socket,
        welcome: undefined,
        heartbeat: undefined,
        lastFrameAt: Date.now(),
      };
      this.connection = connection;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        if (this.connection === connection) this.detach();
        try {
          socket.close(CLIENT_GONE, 'connect timeout');
        } catch {
          // Still connecting: browsers throw only for invalid codes.
        }
        reject(
          new ClientError(
            ClientErrorCode.Timeout,
            `not welcomed within ${this.connectTimeoutMs} ms`,
            { closeCode: ABNORMAL, closeReason: 'connect timeout' },
          ),
        );
      }, this.connectTimeoutMs);

      socket.onmessage = (event: { data: unknown }) => {
        if (this.connection !== connection) return;
        connection.lastFrameAt = Date.now();
        const message = this.parseFrame(event.data);
        if (!message) return;
        if (connection.welcome) {
          this.dispatch(message);
          return;
        }
        if (message.event !== 'welcome') {
          this.report(
            new ClientError(
              ClientErrorCode.InvalidFrame,
              `${message.event} before welcome (ignored)`,
            ),
          );
          return;
        }
        connection.welcome = message.data;
        this.lastWelcome = message.data;
        this.startHeartbeat(connection);
        settled = true;
        clearTimeout(timer);
        this.emit('welcome', message.data);
        resolve(message.data);
      };

      socket.onerror = () => {
        // A close event follows with the code; nothing to do here.
      };

      socket.onclose = (event: { code?: number; reason?: string }) => {
        const code = typeof event.code === 'number' ? event.code : ABNORMAL;
        const reason = typeof event.reason === 'string' ? event.reason : '';
        if (this.connection !== connection) {
          // close() gave up on a connection still being made.
          if (!settled) {
            settled = true;
            clearTimeout(timer);
            reject(new ClientError(ClientErrorCode.Closed, 'client closed while connecting'));
          }
          return;
        }
        this.lastClose = { code, reason };
        this.detach();
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          const action = closeAction(code);
          reject(
            new ClientError(
              action === 'stop'
                ? ClientErrorCode.ConnectionRefused
                : ClientErrorCode.ConnectionLost,
              `connection closed before welcome: ${code}${reason ? ` ${reason}` : ''}`,
              { closeCode: code, closeReason: reason },
            ),
          );
          return;
        }
        this.dropped(code, reason);
      };
    });
  }

  /** A welcomed connection is gone (closed by the server, the network, or a heartbeat timeout). */
  private dropped(code: number, reason: string): void {
    this.pending.rejectAll(
      (id, event) =>
        new ClientError(
          ClientErrorCode.ConnectionLost,
          `${event} (request ${id}): connection closed (${code}${reason ? ` ${reason}` : ''})`,
          { requestId: id, closeCode: code, closeReason: reason },
        ),
    );
    // While reconnecting, the reconnect loop sees its resume request fail and carries on.
    if (this.connectionState !== 'open') return;
    const action = this.reconnectEnabled ? closeAction(code, this.getToken !== undefined) : 'stop';
    if (action === 'stop') {
      this.finish(
        code,
        reason,
        new ClientError(
          ClientErrorCode.ConnectionRefused,
          `connection closed: ${code}${reason ? ` ${reason}` : ''}`,
          { closeCode: code, closeReason: reason },
        ),
      );
      return;
    }
    void this.reconnectLoop(action, code, reason);
  }

  /** Gives up on the current connection (no sign of life, or its resume went wrong). */
  private abandon(reason: string): void {
    const connection = this.detach();
    if (!connection) return;
    try {
      connection.socket.close(CLIENT_GONE, reason);
    } catch {
      // Already closed.
    }
    this.lastClose = { code: ABNORMAL, reason };
    this.dropped(ABNORMAL, reason);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeReconnect = done;
    });
  }

  /**
   * Reconnects with backoff until a connection is welcomed and, if the client was in a session,
   * the session is resumed (or found lost); stops on a close code after which retrying cannot help.
   */
  private async reconnectLoop(first: CloseAction, code: number, reason: string): Promise<void> {
    this.setState('reconnecting');
    let action = first;
    let closeCode = code;
    let closeReason = reason;
    let attempt = 0;
    // A token fetched for this reconnect: if it is refused as expired too, stop.
    let fetchedToken = false;
    for (;;) {
      if (this.connectionState !== 'reconnecting') return;
      if (action === 'stop' || attempt >= this.maxAttempts) {
        this.finish(
          closeCode,
          closeReason,
          new ClientError(
            ClientErrorCode.ConnectionRefused,
            action === 'stop'
              ? `reconnect refused: ${closeCode}${closeReason ? ` ${closeReason}` : ''}`
              : `gave up after ${attempt} reconnect attempts (last: ${closeCode})`,
            { closeCode, closeReason },
          ),
        );
        return;
      }
      attempt++;
      const delayMs =
        action === 'reconnect-now' && attempt === 1
          ? 0
          : action === 'backoff'
            ? Math.max(this.slowDownDelayMs, this.backoff.next())
            : this.backoff.next();
      this.emit('reconnecting', { attempt, delayMs, closeCode, closeReason });
      await this.sleep(delayMs);
      this.wakeReconnect = undefined;
      if (this.connectionState !== 'reconnecting') return;
      fetchedToken = (await this.freshTokenIfExpired()) || fetchedToken;
      // With several URLs (instances without a balancer), each attempt goes to the next one: a
      // draining or dead instance is not tried twice in a row.
      this.urlIndex = (this.urlIndex + 1) % this.urls.length;
      try {
        await this.openConnection();
      } catch (error) {
        closeCode = isClientError(error) ? (error.closeCode ?? ABNORMAL) : ABNORMAL;
        closeReason = isClientError(error) ? (error.closeReason ?? error.message) : String(error);
        action = closeAction(closeCode, this.getToken !== undefined && !fetchedToken);
        continue;
      }
      if (this.connectionState !== 'reconnecting') return;
      const outcome = await this.resumeSession();
      // close() may have run meanwhile (the getter is not narrowed by the checks above).
      if (this.state === 'closed') return;
      if (outcome === 'retry') {
        ({ code: closeCode, reason: closeReason } = this.lastClose);
        action = this.connection
          ? 'backoff'
          : closeAction(closeCode, this.getToken !== undefined && !fetchedToken);
        if (this.connection) this.abandonQuietly('resume failed, retrying');
        continue;
      }
      this.backoff.reset();
      this.setState('open');
      return;
    }
  }

  /** Drops the current socket without treating it as a drop (the reconnect loop goes on). */
  private abandonQuietly(reason: string): void {
    const connection = this.detach();
    try {
      connection?.socket.close(CLIENT_GONE, reason);
    } catch {
      // Already closed.
    }
  }

  /** After a reconnect: takes the session back. 'done' also when there was none or it is lost. */
  private async resumeSession(): Promise<'done' | 'retry'> {
    const session = this.sessionState;
    if (!session) return 'done';
    const resumeToken = this.sessionResumeToken;
    if (resumeToken === undefined) {
      this.setState('open');
      this.loseSession(
        new ClientError(ClientErrorCode.SessionLost, 'no resume token for the session'),
      );
      return 'done';
    }
    try {
      await this.send(
        'session.resume',
        { resumeToken, lastSeq: this.seqTracker.last },
        this.requestTimeoutMs,
      );
      return 'done';
    } catch (error) {
      if (
        isClientError(error) &&
        (error.code === ProtocolErrorCode.ResumeFailed ||
          error.code === ProtocolErrorCode.SessionNotFound ||
          error.code === ProtocolErrorCode.NotGranted)
      ) {
        this.setState('open');
        this.loseSession(
          new ClientError(ClientErrorCode.SessionLost, error.message, { cause: error }),
        );
        return 'done';
      }
      return 'retry';
    }
  }

  private loseSession(error: ClientError): void {
    const session = this.sessionState;
    if (!session) return;
    this.sessionState = undefined;
    this.sessionResumeToken = undefined;
    this.seqTracker.reset();
    this.emit('session.lost', { sessionId: session.sessionId, error });
    this.emit('session', null);
  }

  /** Before a reconnect: a new token from `getToken` if the current one expired; true if so. */
  private async freshTokenIfExpired(): Promise<boolean> {
    const expiresAt = tokenExpiry(this.currentToken);
    if (!this.getToken || !(expiresAt - TOKEN_EXPIRY_MARGIN_MS <= Date.now())) return false;
    try {
      this.currentToken = await this.getToken();
      this.emit('token.refreshed', { token: this.currentToken });
      return true;
    } catch (error) {
      this.report(
        new ClientError(
          ClientErrorCode.TokenRefreshFailed,
          'getToken() failed before reconnecting',
          {
            cause: error,
          },
        ),
      );
      return false;
    }
  }

  private setState(state: ConnectionState): void {
    if (this.connectionState === state) return;
    this.connectionState = state;
    this.emit('state', state);
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeat and token refresh
  // -------------------------------------------------------------------------------------------

  /**
   * `ping` every `heartbeatMs / 2`, acknowledging the highest `seq` received; a connection silent
   * for `heartbeatMs` (no pong, nothing) is given up and replaced.
   */
  private startHeartbeat(connection: Connection): void {
    const heartbeatMs = connection.welcome!.heartbeatMs;
    connection.heartbeat = setInterval(() => {
      if (this.connection !== connection) return;
      if (Date.now() - connection.lastFrameAt > heartbeatMs) {
        this.abandon('heartbeat timeout');
        return;
      }
      const holdsSession = this.connectionState === 'open' && this.sessionState !== undefined;
      const ack = this.seqTracker.last;
      this.send('ping', holdsSession && ack > 0 ? { ack } : {}, heartbeatMs).catch(() => {
        // A lost pong shows as silence, handled above.
      });
    }, heartbeatMs / 2);
  }

  private async refreshToken(): Promise<void> {
    if (!this.getToken || this.refreshing) return;
    this.refreshing = true;
    try {
      const token = await this.getToken();
      await this.request('token.refresh', { token });
      this.currentToken = token;
      this.emit('token.refreshed', { token });
    } catch (error) {
      this.report(
        new ClientError(ClientErrorCode.TokenRefreshFailed, 'token refresh failed', {
          cause: error,
        }),
      );
    } finally {
      this.refreshing = false;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Incoming frames
  // -------------------------------------------------------------------------------------------

  /** Validates a frame against protocol v1; reports and drops anything else. */
  private parseFrame(data: unknown): ServerMessage | undefined {
    const text = textOf(data);
    if (text === undefined) {
      this.report(new ClientError(ClientErrorCode.InvalidFrame, 'binary frame (ignored)'));
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      this.report(new ClientError(ClientErrorCode.InvalidFrame, 'frame is not JSON (ignored)'));
      return undefined;
    }
    const parsed = serverMessage.safeParse(json);
    if (parsed.success) return parsed.data;
    const event = (json as { event?: unknown } | null)?.event;
    const error = new ClientError(
      ClientErrorCode.InvalidFrame,
      `invalid ${typeof event === 'string' ? event : 'frame'} (ignored): ${parsed.error.issues
        .slice(0, 3)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}`,
    );
    // If it answers a request, that request fails now rather than at its timeout.
    const data_ = (json as { data?: { id?: unknown; replyTo?: unknown } } | null)?.data;
    const id = typeof data_?.replyTo === 'string' ? data_.replyTo : data_?.id;
    if (typeof id === 'string') this.pending.fail(id, error);
    this.report(error);
    return undefined;
  }

  private dispatch(message: ServerMessage): void {
    switch (message.event) {
      case 'welcome':
        this.report(new ClientError(ClientErrorCode.InvalidFrame, 'second welcome (ignored)'));
        return;
      case 'ack':
      case 'pong':
        this.pending.settle(message);
        return;
      case 'error':
        if (!this.pending.settle(message)) {
          this.report(new ClientError(message.data.code, message.data.message));
        }
        return;
      case 'session.opened':
        if (this.pending.eventOf(message.data.replyTo) === 'session.open') {
          this.enterSession(message.data, true);
        }
        this.pending.settle(message);
        return;
      case 'session.joined':
        if (this.pending.eventOf(message.data.replyTo) === 'session.join') {
          this.enterSession(message.data, false);
        }
        this.pending.settle(message);
        return;
      case 'session.resumed': {
        const session = this.sessionState;
        if (this.pending.eventOf(message.data.replyTo) === 'session.resume' && session) {
          session.peers = new Map(message.data.peers.map((p) => [p.peerId, p]));
          session.maxPeers = message.data.maxPeers;
          session.iceServers = message.data.iceServers;
          this.sessionResumeToken = this.connection?.welcome?.resumeToken;
          // Open before anyone hears of it: the redelivered events may follow in the same tick,
          // and their handlers (an answer to a redelivered offer) send requests.
          this.backoff.reset();
          this.setState('open');
          this.pending.settle(message);
          this.emit('session', this.session);
          this.emit('resumed', message.data);
        } else {
          this.pending.settle(message);
        }
        return;
      }
      case 'turn.credentials':
        if (this.sessionState) this.sessionState.iceServers = message.data.iceServers;
        if (message.data.replyTo !== undefined) this.pending.settle(message);
        this.emit('turn.credentials', message.data);
        return;
      case 'token.expiring':
        this.emit('token.expiring', message.data);
        void this.refreshToken();
        return;
      case 'peer.joined':
      case 'peer.left':
      case 'join.requested':
      case 'join.denied':
      case 'session.ended':
      case 'signal.offer':
      case 'signal.answer':
      case 'signal.candidate':
      case 'control':
        this.deliverSequenced(message);
        return;
    }
  }

  private enterSession(data: SessionOpenedData | SessionJoinedData, opened: boolean): void {
    this.sessionState = {
      sessionId: data.sessionId,
      peerId: data.peerId,
      opened,
      maxPeers: data.maxPeers,
      joinPolicy: 'joinPolicy' in data ? data.joinPolicy : undefined,
      peers: new Map('peers' in data ? data.peers.map((p) => [p.peerId, p]) : []),
      iceServers: data.iceServers,
    };
    this.sessionResumeToken = this.connection?.welcome?.resumeToken;
    this.seqTracker.reset();
    this.emit('session', this.session);
  }

  /** Delivers a sequenced event once: duplicates (redeliveries after a resume) are dropped. */
  private deliverSequenced(message: Extract<ServerMessage, { event: SequencedEvent }>): void {
    const session = this.sessionState;
    if (!session) {
      this.report(
        new ClientError(
          ClientErrorCode.InvalidFrame,
          `${message.event} outside a session (ignored)`,
        ),
      );
      return;
    }
    const before = this.seqTracker.last;
    const verdict = this.seqTracker.accept(message.seq);
    if (verdict === 'duplicate') return;
    if (verdict === 'gap') {
      this.report(
        new ClientError(
          ClientErrorCode.SequenceGap,
          `${message.event} has seq ${message.seq} after ${before}: events were lost`,
        ),
      );
    }
    const seq = message.seq;
    switch (message.event) {
      case 'peer.joined': {
        const { peerId, subject, role } = message.data;
        session.peers.set(peerId, { peerId, subject, role });
        this.emit('session', this.session);
        this.emit('peer.joined', { ...message.data, seq });
        return;
      }
      case 'peer.left':
        session.peers.delete(message.data.peerId);
        this.emit('session', this.session);
        this.emit('peer.left', { ...message.data, seq });
        return;
      case 'session.ended':
        this.sessionState = undefined;
        this.sessionResumeToken = undefined;
        this.emit('session.ended', { ...message.data, seq });
        this.emit('session', null);
        return;
      case 'join.requested':
        this.emit('join.requested', { ...message.data, seq });
        return;
      case 'join.denied':
        this.emit('join.denied', { ...message.data, seq });
        return;
      case 'signal.offer':
        this.emit('signal.offer', { ...message.data, seq });
        return;
      case 'signal.answer':
        this.emit('signal.answer', { ...message.data, seq });
        return;
      case 'signal.candidate':
        this.emit('signal.candidate', { ...message.data, seq });
        return;
      case 'control':
        this.emit('control', { ...message.data, seq });
        return;
    }
  }

  private report(error: ClientError): void {
    this.emit('error', error);
  }

  protected override handlerFailed(event: keyof SignalingClientEvents, error: unknown): void {
    if (event === 'error') return;
    this.report(
      new ClientError(ClientErrorCode.HandlerFailed, `a '${String(event)}' handler threw`, {
        cause: error,
      }),
    );
  }

  // -------------------------------------------------------------------------------------------
  // Requests
  // -------------------------------------------------------------------------------------------

  /**
   * Sends request `event` and resolves with the `data` of its answer (`ack`, or the reply that
   * replaces it). Rejects with a {@link ClientError}: the server's code from an `error` frame,
   * `not_connected` (not sent: not connected, or reconnecting), `connection_lost` (the connection
   * dropped before the answer; the request may or may not have been applied), `timeout`, or
   * `invalid_message` (the data breaks the protocol's schema; not sent).
   */
  request<E extends ClientEvent>(
    event: E,
    data: RequestData<E>,
    timeoutMs = this.requestTimeoutMs,
  ): Promise<ReplyOf<E>> {
    if (this.connectionState !== 'open' && !ALLOWED_WHILE_RECONNECTING.has(event)) {
      return Promise.reject(
        new ClientError(
          ClientErrorCode.NotConnected,
          `${event}: client is ${this.connectionState}`,
        ),
      );
    }
    return this.send(event, data, timeoutMs);
  }

  private send<E extends ClientEvent>(
    event: E,
    data: RequestData<E>,
    timeoutMs: number,
  ): Promise<ReplyOf<E>> {
    const connection = this.connection;
    if (!connection?.welcome || connection.socket.readyState !== 1) {
      return Promise.reject(
        new ClientError(ClientErrorCode.NotConnected, `${event}: no open connection`),
      );
    }
    const { id, promise } = this.pending.create(event, timeoutMs);
    const frame = { event, data: { id, ...data } };
    const valid = clientMessage.safeParse(frame);
    if (!valid.success) {
      this.pending.fail(
        id,
        new ClientError(
          ProtocolErrorCode.InvalidMessage,
          `${event}: ${valid.error.issues
            .slice(0, 3)
            .map((i) => `${i.path.join('.')}: ${i.message}`)
            .join('; ')}`,
          { requestId: id },
        ),
      );
      return promise;
    }
    try {
      connection.socket.send(JSON.stringify(frame));
    } catch (error) {
      this.pending.fail(
        id,
        new ClientError(ClientErrorCode.ConnectionLost, `${event}: send failed`, {
          requestId: id,
          cause: error,
        }),
      );
    }
    return promise;
  }

  /** Host: opens a session; resolves with `session.opened` (its id, peer id, ICE servers). */
  openSession(options: RequestData<'session.open'> = {}): Promise<SessionOpenedData> {
    return this.request('session.open', options);
  }

  /**
   * Joins a session the token grants; resolves with `session.joined`. In an `ask-host` session
   * this waits for the host (`joinTimeoutMs`); a refusal rejects with `join_denied`.
   */
  joinSession(sessionId: string): Promise<SessionJoinedData> {
    return this.request('session.join', { sessionId }, this.joinTimeoutMs);
  }

  /** Leaves the current session. */
  async leaveSession(): Promise<void> {
    await this.request('session.leave', {});
    this.leftSession();
  }

  /** Host: ends the session for everyone. */
  async endSession(): Promise<void> {
    await this.request('session.end', {});
    this.leftSession();
  }

  private leftSession(): void {
    if (!this.sessionState) return;
    this.sessionState = undefined;
    this.sessionResumeToken = undefined;
    this.seqTracker.reset();
    this.emit('session', null);
  }

  /** Host of an `ask-host` session: admits the peer of a `join.requested`. */
  async acceptJoin(requestId: string): Promise<void> {
    await this.request('join.accept', { requestId });
  }

  /** Host of an `ask-host` session: refuses the peer of a `join.requested`. */
  async denyJoin(requestId: string, reason?: string): Promise<void> {
    await this.request('join.deny', reason === undefined ? { requestId } : { requestId, reason });
  }

  /** Relays an SDP offer to a peer of the session. */
  async sendOffer(to: string, sdp: string, iceRestart?: boolean): Promise<void> {
    await this.request('signal.offer', iceRestart ? { to, sdp, iceRestart } : { to, sdp });
  }

  /** Relays an SDP answer to a peer of the session. */
  async sendAnswer(to: string, sdp: string): Promise<void> {
    await this.request('signal.answer', { to, sdp });
  }

  /** Relays an ICE candidate (null: end of candidates) to a peer of the session. */
  async sendCandidate(to: string, candidate: IceCandidateInit | null): Promise<void> {
    await this.request('signal.candidate', { to, candidate });
  }

  /**
   * Relays a control payload to a peer through the gateway (sequenced, resumed after a drop).
   * For a steady stream of pointer events prefer a data channel ({@link ControlChannel}).
   */
  async sendControl(to: string, payload: ControlPayload): Promise<void> {
    await this.request('control', { to, payload });
  }

  /** Asks for fresh TURN credentials (also kept in {@link session}). */
  refreshTurn(): Promise<TurnCredentialsData> {
    return this.request('turn.refresh', {});
  }
}
