import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import {
  Inject,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { AuditRecorder, type AuditContext } from '@sscontrol/audit';
import { CONFIG, type Config } from '@sscontrol/config';
import { uuidv7 } from '@sscontrol/event-store';
import {
  isKeysError,
  KEYS,
  KeysErrorCode,
  TOKEN_ERROR_CODES,
  type KeysRuntime,
  type TokenErrorCode,
  type VerifiedClientToken,
} from '@sscontrol/keys';
import {
  DEFAULT_MAX_PEERS,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  ProtocolErrorCode,
  parseClientFrame,
  type ClientEvent,
  type ClientMessage,
  type ClientMessageOf,
  type ServerMessageOf,
} from '@sscontrol/protocol';
import { LOGGER, Metrics } from '@sscontrol/telemetry';
import { MemoryState } from '../cluster/memory-state.js';
import { SIGNALING_STATE } from '../cluster/signaling-state.provider.js';
import type {
  InstanceMessage,
  JoinRequestRecord,
  PeerRecord,
  SignalingState,
} from '../cluster/state.js';
import { CloseCode, closeForTokenError } from './close-codes.js';
import { Connection, type ServerCloseReason } from './connection.js';
import { SignalingGuards, type Refusal } from './guards.js';

/** Subprotocol of protocol v1; the token rides as a second one: `sscontrol.token.<jwt>`. */
export const PROTOCOL = PROTOCOL_VERSION;
const TOKEN_PROTOCOL = 'sscontrol.token.';

/** A refusal of a request: answered with `error` naming the request. */
class Refused extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const refuse = (code: ProtocolErrorCode, message: string): never => {
  throw new Refused(code, message);
};

/** The token a client offered: `sscontrol.token.<jwt>` subprotocol, else `Authorization: Bearer`. */
export function offeredToken(req: IncomingMessage): string | undefined {
  const protocols = String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim());
  const fromProtocol = protocols.find((p) => p.startsWith(TOKEN_PROTOCOL));
  if (fromProtocol) return fromProtocol.slice(TOKEN_PROTOCOL.length);
  const auth = req.headers.authorization;
  // The scheme is case-insensitive (RFC 7235 §2.1).
  return /^bearer\s+(\S+)\s*$/i.exec(auth ?? '')?.[1];
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('base64url');
const newPeerId = () => `p-${randomBytes(12).toString('base64url')}`;
const grants = (token: VerifiedClientToken, sessionId: string) =>
  token.sessions.includes('*') || token.sessions.includes(sessionId);

const RELAYED: ReadonlySet<string> = new Set([
  'signal.offer',
  'signal.answer',
  'signal.candidate',
  'control',
]);
type RelayMessage = ClientMessageOf<
  'signal.offer' | 'signal.answer' | 'signal.candidate' | 'control'
>;

type Handler<E extends keyof Handlers> = (c: Connection, m: ClientMessageOf<E>) => Promise<void>;
type Handlers = {
  [E in ClientEvent]: Handler<E>;
};

/**
 * The signaling gateway (protocol v1, docs/protocol.md). It authenticates every WebSocket at the
 * handshake, admits it past the bans, origin check, limits and lockdown, then answers each
 * request with exactly one `ack`, `error` or reply; relays signals between peers of a session
 * through the shared {@link SignalingState} (so a peer on another instance is reached the same
 * way); keeps each peer's place and undelivered events through a reconnect; and records every
 * connection and session change in the audit trail before it tells anyone it happened.
 */
@WebSocketGateway({
  path: '/ws',
  // The token is not a protocol to agree on: answer with `sscontrol.v1` only, never echo it.
  handleProtocols: (protocols: Set<string>) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  maxPayload: MAX_FRAME_BYTES,
})
export class SignalingGateway
  implements
    OnGatewayConnection<WebSocket>,
    OnApplicationBootstrap,
    BeforeApplicationShutdown,
    OnApplicationShutdown
{
  private readonly connections = new Map<WebSocket, Connection>();
  private readonly byId = new Map<string, Connection>();
  private readonly byPeer = new Map<string, Connection>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly closing = new Set<Promise<void>>();
  private draining = false;
  private readonly s: Config['signaling'];
  /** The in-memory state, when this instance is alone: relays and pings then run synchronously. */
  private readonly memory: MemoryState | null;
  private readonly okCounters = new Map<string, { inc(): void }>();

  constructor(
    @Inject(KEYS) private readonly keys: KeysRuntime,
    @Inject(AuditRecorder) private readonly recorder: AuditRecorder,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(SIGNALING_STATE) private readonly state: SignalingState,
    @Inject(SignalingGuards) private readonly guards: SignalingGuards,
  ) {
    this.s = config.signaling;
    this.memory = state instanceof MemoryState ? state : null;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.state.start(this.config.instanceId, (m) => this.onInstanceMessage(m));
    this.metrics.keyringVersion.set(this.keys.keyring.version);
    this.keys.keyring.on('changed', (change) => {
      this.metrics.keyringVersion.set(change.version);
      this.logger.info(
        {
          keyringVersion: change.version,
          keyringUpdatedAt: this.keys.keyring.document?.updatedAt,
          revokedKeys: change.revokedKeys.map((k) => k.id),
          revokedTokens: change.revokedTokenIds.length,
        },
        `key ring version ${change.version} loaded`,
      );
      const keys = new Set(
        change.revokedKeys.filter((k) => k.kind === 'client-token').map((k) => k.id),
      );
      const tokens = new Set(change.revokedTokenIds);
      if (keys.size === 0 && tokens.size === 0) return;
      for (const c of this.connections.values()) {
        if (keys.has(c.token.keyId)) this.cutOff(c, 'key_revoked');
        else if (tokens.has(c.token.tokenId)) this.cutOff(c, 'token_revoked');
      }
    });
    this.guards.onChange((what) => this.enforceGuards(what));
    const every = (ms: number, f: () => unknown) => {
      const t = setInterval(() => {
        Promise.resolve()
          .then(f)
          .catch((error: unknown) => this.logger.error({ err: error }, 'signaling sweep failed'));
      }, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.s.heartbeatMs, () => this.heartbeat());
    every(1000, () => this.tokenSweep());
    every(1000, () => this.expireAway());
    if (this.state.mode === 'redis') {
      await this.state.beat(Date.now());
      every(2000, () => this.state.beat(Date.now()));
      every(3000, () => this.adoptDeadInstances());
    }
  }

  /** SIGTERM: refuse new sockets, tell every client to reconnect elsewhere, flush the trail. */
  async beforeApplicationShutdown(): Promise<void> {
    this.draining = true;
    for (const t of this.timers) clearInterval(t);
    if (this.connections.size > 0) {
      this.logger.info(
        { connections: this.connections.size },
        `draining: telling ${this.connections.size} clients to reconnect elsewhere (4100)`,
      );
    }
    for (const c of this.connections.values()) {
      c.closedBecause = 'server_draining';
      c.close(CloseCode.Draining, 'server_draining');
    }
    const deadline = Date.now() + this.s.drainTimeoutMs;
    while (this.connections.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const c of this.connections.values()) c.socket.terminate();
    while (this.connections.size > 0 && Date.now() < deadline + 1000) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.allSettled([...this.closing]);
    if (this.state.mode === 'redis') await this.state.leaveCluster().catch(() => undefined);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.state.close();
  }

  /** Open authenticated connections (for health and tests). */
  get size(): number {
    return this.connections.size;
  }

  // -------------------------------------------------------------------------------------------
  // Handshake
  // -------------------------------------------------------------------------------------------

  async handleConnection(socket: WebSocket, req: IncomingMessage): Promise<void> {
    const connectionId = uuidv7();
    const ip = this.guards.clientAddress(req);
    const userAgent = req.headers['user-agent']?.slice(0, 512);
    const origin = req.headers.origin?.slice(0, 300);
    const seen = { userAgent, origin };
    // Frames that arrive before the connection is admitted are refused, not lost silently.
    const early = (data: RawData) => {
      const parsed = parseClientFrame(data as Buffer);
      socket.send(
        JSON.stringify({
          event: 'error',
          data: {
            ...(parsed.ok ? { id: parsed.message.data.id } : parsed.id ? { id: parsed.id } : {}),
            code: ProtocolErrorCode.OutOfOrder,
            message: 'wait for `welcome` before sending requests',
          },
        }),
      );
    };
    socket.on('message', early);
    socket.on('error', () => undefined);

    const refusal: Refusal | null = this.draining
      ? { code: CloseCode.Draining, reason: 'server_draining', audit: null, limit: null }
      : this.guards.admit(req, ip);
    if (refusal) {
      socket.close(refusal.code, refusal.reason);
      if (refusal.limit) this.metrics.limitHits.inc({ limit: refusal.limit });
      if (refusal.audit) await this.recordRejected(connectionId, ip, refusal.audit, seen);
      return;
    }
    const release = this.guards.openConnection(ip);
    if (typeof release !== 'function') {
      socket.close(CloseCode.RateLimited, release.limit);
      this.metrics.limitHits.inc({ limit: release.limit });
      if (!release.repeat) {
        await this.recordRejected(
          connectionId,
          ip,
          release.limit === 'connection_rate' ? 'rate_limited' : 'too_many_connections',
          seen,
        );
      }
      return;
    }
    const releaseOnce = release;

    const token = offeredToken(req);
    let verified: VerifiedClientToken;
    try {
      if (!token) {
        socket.close(CloseCode.TokenMissing, 'token_missing');
        releaseOnce();
        await this.recordRejected(connectionId, ip, 'token_missing', seen);
        return;
      }
      verified = await this.verify(token);
    } catch (error) {
      releaseOnce();
      if (isKeysError(error) && (TOKEN_ERROR_CODES as readonly string[]).includes(error.code)) {
        const close = closeForTokenError(error.code as TokenErrorCode);
        this.metrics.authFailures.inc({ surface: 'signaling', reason: error.code });
        socket.close(close.code, close.reason);
        await this.recordRejected(connectionId, ip, close.reason, seen);
        return;
      }
      this.logger.error({ err: error }, 'connection refused: authentication failed unexpectedly');
      socket.close(1011, 'internal_error');
      return;
    }
    try {
      await this.recorder.record(
        'connection.opened',
        {
          connectionId,
          subject: verified.subject,
          role: verified.role,
          ip,
          ...(userAgent ? { userAgent } : {}),
          ...(origin ? { origin } : {}),
          tokenId: verified.tokenId,
          keyId: verified.keyId,
          keyFingerprint: verified.keyFingerprint,
          instance: this.config.instanceId,
        },
        {
          actor: {
            type: 'device',
            id: verified.subject,
            ip,
            keyFingerprint: verified.keyFingerprint,
          },
          correlationId: connectionId,
        },
      );
    } catch (error) {
      releaseOnce();
      this.logger.error(
        { err: error, connectionId },
        'connection refused: audit trail unavailable',
      );
      socket.close(CloseCode.AuditUnavailable, 'audit_unavailable');
      return;
    }
    if (socket.readyState !== socket.OPEN) {
      // The client left while its connection was being recorded.
      releaseOnce();
      await this.recordClosed(connectionId, 1006, 'client_gone', Date.now());
      return;
    }
    const resumeToken = randomBytes(32).toString('base64url');
    const c = new Connection(
      connectionId,
      socket,
      verified,
      ip,
      Date.now(),
      resumeToken,
      sha256(resumeToken),
      releaseOnce,
    );
    this.connections.set(socket, c);
    this.byId.set(connectionId, c);
    this.metrics.activeConnections.inc();
    socket.off('message', early);
    socket.on('message', (data: RawData, isBinary: boolean) => this.onFrame(c, data, isBinary));
    socket.on('pong', () => (c.lastSeen = Date.now()));
    socket.on('error', (error: Error & { code?: string }) => {
      if (error.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') c.frameTooLarge = true;
    });
    socket.once('close', (code: number) => {
      const p = this.closed(c, code).catch((error: unknown) =>
        this.logger.error({ err: error, connectionId }, 'closing a connection failed'),
      );
      this.closing.add(p);
      void p.finally(() => this.closing.delete(p));
    });
    // A revocation or ban that landed while the connection was being recorded must not be missed.
    if (this.keys.keyring.statusOf(verified.keyId) === 'revoked') this.cutOff(c, 'key_revoked');
    else if (this.keys.keyring.isTokenRevoked(verified.tokenId)) this.cutOff(c, 'token_revoked');
    else {
      c.send({
        event: 'welcome',
        data: {
          protocol: PROTOCOL,
          connectionId,
          subject: verified.subject,
          role: verified.role,
          sessions: [...verified.sessions],
          tokenExpiresAt: verified.expiresAt.toISOString(),
          instance: this.config.instanceId,
          resumeToken,
          heartbeatMs: this.s.heartbeatMs,
        },
      });
    }
  }

  /**
   * Verifies a token; a `kid` this instance does not know yet (a rotation it has not heard of)
   * makes it re-read the ring once before refusing, so that no fresh token is refused while the
   * change propagates. Re-reads are coalesced and spaced, so unknown kids cannot flood the store.
   */
  private async verify(token: string): Promise<VerifiedClientToken> {
    try {
      return this.keys.tokens.verify(token);
    } catch (error) {
      if (!isKeysError(error) || error.code !== KeysErrorCode.TokenKeyUnknown) throw error;
      await this.keys.refreshSoon();
      return this.keys.tokens.verify(token);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Frames
  // -------------------------------------------------------------------------------------------

  private onFrame(c: Connection, data: RawData, isBinary: boolean): void {
    c.lastSeen = Date.now();
    if (!c.open) return;
    const parsed = parseClientFrame(
      isBinary ? (data as Buffer) : (data as Buffer).toString('utf8'),
    );
    if (!parsed.ok) {
      this.metrics.messages.inc({ event: 'invalid', outcome: parsed.code });
      c.error(parsed.id, parsed.code, parsed.message);
      return;
    }
    const m = parsed.message;
    if (!this.guards.takeMessage(c)) {
      this.metrics.messages.inc({ event: m.event, outcome: ProtocolErrorCode.RateLimited });
      this.metrics.limitHits.inc({ limit: 'message_rate' });
      c.error(m.data.id, ProtocolErrorCode.RateLimited, 'too many messages: slow down');
      if (this.guards.floods(c)) void this.floodClose(c);
      return;
    }
    if (c.pendingIds.has(m.data.id)) {
      c.error(m.data.id, ProtocolErrorCode.OutOfOrder, 'a request with this id is still pending');
      return;
    }
    // Fast path: a relay or ping on an idle connection of a lone instance is handled right here,
    // synchronously (still in order: nothing of this connection is queued before it).
    if (this.memory && c.pendingIds.size === 0 && (RELAYED.has(m.event) || m.event === 'ping')) {
      try {
        if (m.event === 'ping') this.pingNow(c, m, this.memory);
        else this.relayNow(c, m as RelayMessage, this.memory);
        this.countOk(m.event);
      } catch (error) {
        this.failed(c, m, error);
      }
      return;
    }
    c.pendingIds.add(m.data.id);
    c.queue = c.queue.then(() => this.handle(c, m));
  }

  private countOk(event: string): void {
    let counter = this.okCounters.get(event);
    if (!counter) {
      counter = this.metrics.messages.labels(event, 'ok');
      this.okCounters.set(event, counter);
    }
    counter.inc();
  }

  private failed(c: Connection, m: ClientMessage, error: unknown): void {
    if (error instanceof Refused) {
      this.metrics.messages.inc({ event: m.event, outcome: error.code });
      c.error(m.data.id, error.code, error.message);
    } else {
      this.metrics.messages.inc({ event: m.event, outcome: ProtocolErrorCode.InternalError });
      this.logger.error({ err: error, connectionId: c.id, event: m.event }, 'request failed');
      c.error(m.data.id, ProtocolErrorCode.InternalError, 'the request failed; retry later');
    }
  }

  /** Checks a relayed message and builds what its recipient gets (`from` stamped here). */
  private relayed(c: Connection, m: RelayMessage): { sessionId: string; data: string } {
    const peer = this.requirePeer(c);
    const to = m.data.to;
    if (to === peer.peerId) refuse(ProtocolErrorCode.PeerNotFound, 'a peer cannot signal itself');
    const from = `{"from":${JSON.stringify(peer.peerId)}`;
    let data: string;
    switch (m.event) {
      case 'signal.offer':
        data = `${from},"sdp":${JSON.stringify(m.data.sdp)}${
          m.data.iceRestart !== undefined ? `,"iceRestart":${m.data.iceRestart}` : ''
        }}`;
        break;
      case 'signal.answer':
        if (!c.offersFrom.has(to)) {
          refuse(ProtocolErrorCode.OutOfOrder, 'an answer needs an offer from that peer first');
        }
        data = `${from},"sdp":${JSON.stringify(m.data.sdp)}}`;
        break;
      case 'signal.candidate':
        data = `${from},"candidate":${JSON.stringify(m.data.candidate)}}`;
        break;
      case 'control':
        data = `${from},"payload":${JSON.stringify(m.data.payload)}}`;
        break;
    }
    return { sessionId: peer.sessionId, data };
  }

  private relayNow(c: Connection, m: RelayMessage, memory: MemoryState): void {
    const { sessionId, data } = this.relayed(c, m);
    const seq = memory.deliverNow(m.data.to, sessionId, m.event, data, this.s.mailboxSize);
    if (seq === null) refuse(ProtocolErrorCode.PeerNotFound, 'no such peer in this session');
    if (m.event === 'signal.answer') c.offersFrom.delete(m.data.to);
    c.ack(m.data.id);
  }

  private async relay(c: Connection, m: RelayMessage): Promise<void> {
    const { sessionId, data } = this.relayed(c, m);
    const seq = await this.state.deliver(m.data.to, sessionId, m.event, data, this.s.mailboxSize);
    if (seq === null) refuse(ProtocolErrorCode.PeerNotFound, 'no such peer in this session');
    if (m.event === 'signal.answer') c.offersFrom.delete(m.data.to);
    c.ack(m.data.id);
  }

  private pong(c: Connection, id: string): void {
    c.sendRaw(
      `{"event":"pong","data":{"replyTo":${JSON.stringify(id)},"serverTime":"${new Date().toISOString()}"}}`,
    );
  }

  private pingNow(c: Connection, m: ClientMessageOf<'ping'>, memory: MemoryState): void {
    if (m.data.ack !== undefined && c.peer && m.data.ack > c.ackedSeq) {
      c.ackedSeq = Math.min(m.data.ack, c.sentSeq);
      memory.ackNow(c.peer.peerId, c.ackedSeq);
    }
    this.pong(c, m.data.id);
  }

  private async handle(c: Connection, m: ClientMessage): Promise<void> {
    try {
      if (!c.open && m.event !== 'session.leave') return;
      await (this.handlers[m.event] as Handler<typeof m.event>)(c, m);
      this.countOk(m.event);
    } catch (error) {
      this.failed(c, m, error);
    } finally {
      c.pendingIds.delete(m.data.id);
    }
  }

  private readonly handlers: Handlers = {
    'session.open': (c, m) => this.open(c, m),
    'session.join': (c, m) => this.join(c, m),
    'session.leave': (c, m) => this.leave(c, m),
    'session.end': (c, m) => this.end(c, m),
    'join.accept': (c, m) => this.accept(c, m),
    'join.deny': (c, m) => this.deny(c, m),
    'signal.offer': (c, m) => this.relay(c, m),
    'signal.answer': (c, m) => this.relay(c, m),
    'signal.candidate': (c, m) => this.relay(c, m),
    control: (c, m) => this.relay(c, m),
    'token.refresh': (c, m) => this.refreshToken(c, m),
    'turn.refresh': async (c, m) => {
      const peer = this.requirePeer(c);
      const turn = await this.issueTurn(
        c.token.subject,
        peer.sessionId,
        peer.peerId,
        this.context(c),
      );
      c.send({
        event: 'turn.credentials',
        data: { replyTo: m.data.id, iceServers: turn.iceServers, expiresAt: turn.expiresAt },
      });
    },
    ping: async (c, m) => {
      if (m.data.ack !== undefined && c.peer && m.data.ack > c.ackedSeq) {
        c.ackedSeq = Math.min(m.data.ack, c.sentSeq);
        await this.state.ack(c.peer.peerId, c.ackedSeq);
      }
      this.pong(c, m.data.id);
    },
    'session.resume': (c, m) => this.resume(c, m),
  };

  // -------------------------------------------------------------------------------------------
  // Sessions
  // -------------------------------------------------------------------------------------------

  private context(c: Connection): AuditContext {
    return {
      actor: {
        type: 'device',
        id: c.token.subject,
        ip: c.ip,
        keyFingerprint: c.token.keyFingerprint,
      },
      correlationId: c.id,
    };
  }

  private get serviceContext(): AuditContext {
    return { actor: { type: 'service', id: this.config.instanceId } };
  }

  /** Records an event the client's request depends on: refused with `audit_unavailable` if it cannot. */
  private async audit(record: () => Promise<unknown>): Promise<void> {
    try {
      await record();
    } catch (error) {
      this.logger.error({ err: error }, 'request refused: audit trail unavailable');
      refuse(
        ProtocolErrorCode.AuditUnavailable,
        'the audit trail cannot record this now, so it was not done; retry later',
      );
    }
  }

  /** Records an event nobody waits on (a disconnect); a failure is logged, loudly. */
  private async auditBestEffort(what: string, record: () => Promise<unknown>): Promise<void> {
    try {
      await record();
    } catch (error) {
      this.logger.error({ err: error, what }, `could not record ${what} in the audit trail`);
    }
  }

  private notInSession(c: Connection): void {
    if (c.peer) refuse(ProtocolErrorCode.AlreadyInSession, 'leave the current session first');
    if (c.pendingJoin) refuse(ProtocolErrorCode.OutOfOrder, 'a join request is pending');
  }

  private requirePeer(c: Connection) {
    if (!c.peer) refuse(ProtocolErrorCode.NotInSession, 'join or open a session first');
    return c.peer!;
  }

  private bind(c: Connection, peerId: string, sessionId: string, role: PeerRecord['role']): void {
    c.peer = { peerId, sessionId, role };
    c.offersFrom.clear();
    c.sentSeq = 0;
    c.ackedSeq = 0;
    this.byPeer.set(peerId, c);
    this.metrics.signalingPeers.set(this.byPeer.size);
  }

  private unbind(c: Connection): void {
    if (!c.peer) return;
    if (this.byPeer.get(c.peer.peerId) === c) this.byPeer.delete(c.peer.peerId);
    c.peer = null;
    c.offersFrom.clear();
    this.metrics.signalingPeers.set(this.byPeer.size);
  }

  private async issueTurn(
    subject: string,
    sessionId: string,
    peerId: string,
    context: AuditContext,
  ): Promise<{
    iceServers: ServerMessageOf<'session.opened'>['data']['iceServers'];
    expiresAt: string;
  }> {
    const uris = this.config.turn.uris;
    const stun = uris.filter((u) => u.startsWith('stun'));
    const turn = uris.filter((u) => u.startsWith('turn'));
    const fallbackExpiry = new Date(Date.now() + this.config.turn.credentialTtlMs).toISOString();
    if (turn.length === 0) {
      return {
        iceServers: stun.length > 0 ? [{ urls: stun.slice(0, 8) }] : [],
        expiresAt: fallbackExpiry,
      };
    }
    let credential: ReturnType<KeysRuntime['turnCredential']>;
    try {
      credential = this.keys.turnCredential(subject);
    } catch (error) {
      this.logger.warn({ err: error }, 'TURN credentials unavailable');
      throw new Refused(ProtocolErrorCode.TurnUnavailable, 'TURN credentials cannot be issued now');
    }
    await this.audit(() =>
      this.recorder.record(
        'session.turnCredentialsIssued',
        {
          sessionId,
          peerId,
          username: credential.username,
          expiresAt: credential.expiresAt.toISOString(),
          uris: turn.slice(0, 10),
          keyId: credential.keyId,
        },
        context,
      ),
    );
    return {
      iceServers: [
        ...(stun.length > 0 ? [{ urls: stun.slice(0, 8) }] : []),
        {
          urls: turn.slice(0, 8),
          username: credential.username,
          credential: credential.credential,
        },
      ],
      expiresAt: credential.expiresAt.toISOString(),
    };
  }

  private async open(c: Connection, m: ClientMessageOf<'session.open'>): Promise<void> {
    this.notInSession(c);
    if (this.guards.lockedDown()) {
      refuse(ProtocolErrorCode.Lockdown, 'the service is in lockdown: no new sessions or joins');
    }
    if (c.token.role !== 'host') refuse(ProtocolErrorCode.NotGranted, 'only a host opens sessions');
    const sessionId = m.data.sessionId ?? `s-${randomBytes(12).toString('base64url')}`;
    if (!grants(c.token, sessionId)) {
      refuse(
        ProtocolErrorCode.NotGranted,
        m.data.sessionId
          ? 'the token does not grant this session'
          : 'name the session: the token grants only named sessions',
      );
    }
    const maxPeers = m.data.maxPeers ?? DEFAULT_MAX_PEERS;
    if (maxPeers > this.s.maxPeers) {
      refuse(ProtocolErrorCode.InvalidMessage, `maxPeers is at most ${this.s.maxPeers} here`);
    }
    const joinPolicy = m.data.joinPolicy ?? 'token';
    const peerId = newPeerId();
    const host: PeerRecord = {
      peerId,
      sessionId,
      subject: c.token.subject,
      role: 'host',
      connectionId: c.id,
      instance: this.config.instanceId,
    };
    const opened = await this.state.openSession(
      { sessionId, hostPeerId: peerId, hostSubject: c.token.subject, maxPeers, joinPolicy },
      host,
      c.resumeHash,
    );
    if (opened === 'exists')
      refuse(ProtocolErrorCode.SessionExists, 'a session with this id is open');
    let turn;
    try {
      await this.audit(() =>
        this.recorder.record(
          'session.opened',
          { sessionId, hostSubject: c.token.subject, hostPeerId: peerId, maxPeers, joinPolicy },
          this.context(c),
        ),
      );
      turn = await this.issueTurn(c.token.subject, sessionId, peerId, this.context(c));
    } catch (error) {
      await this.state.endSession(sessionId);
      throw error;
    }
    this.bind(c, peerId, sessionId, 'host');
    c.send({
      event: 'session.opened',
      data: {
        replyTo: m.data.id,
        sessionId,
        peerId,
        joinPolicy,
        maxPeers,
        iceServers: turn.iceServers,
      },
    });
  }

  private async join(c: Connection, m: ClientMessageOf<'session.join'>): Promise<void> {
    this.notInSession(c);
    if (this.guards.lockedDown()) {
      refuse(ProtocolErrorCode.Lockdown, 'the service is in lockdown: no new sessions or joins');
    }
    const { sessionId } = m.data;
    const found = await this.state.session(sessionId);
    if (!found) refuse(ProtocolErrorCode.SessionNotFound, 'no open session has this id');
    const { session } = found!;
    if (session.joinPolicy === 'ask-host') {
      await this.askHost(c, m, session.hostPeerId);
      return;
    }
    if (!grants(c.token, sessionId)) {
      refuse(ProtocolErrorCode.NotGranted, 'the token does not grant this session');
    }
    const peer: PeerRecord = {
      peerId: newPeerId(),
      sessionId,
      subject: c.token.subject,
      role: c.token.role,
      connectionId: c.id,
      instance: this.config.instanceId,
    };
    const joined = await this.admit(peer, c.resumeHash, 'grant', this.context(c));
    this.bind(c, peer.peerId, sessionId, peer.role);
    c.send({
      event: 'session.joined',
      data: {
        replyTo: m.data.id,
        sessionId,
        peerId: peer.peerId,
        maxPeers: joined.maxPeers,
        peers: joined.members,
        iceServers: joined.iceServers,
      },
    });
  }

  /**
   * Adds a peer to a session (records it first: refused if the trail cannot), closes the peer it
   * replaces, and tells the others. The caller binds the connection and answers it.
   */
  private async admit(
    peer: PeerRecord,
    resumeHash: string,
    via: 'grant' | 'host-accept',
    context: AuditContext,
  ) {
    const outcome = await this.state.join(peer, resumeHash, this.s.duplicateIdentity);
    if (!outcome.ok) {
      switch (outcome.reason) {
        case 'not_found':
          refuse(ProtocolErrorCode.SessionNotFound, 'no open session has this id');
          break;
        case 'full':
          refuse(ProtocolErrorCode.SessionFull, 'the session is full');
          break;
        case 'duplicate':
          refuse(
            ProtocolErrorCode.DuplicateIdentity,
            'this subject is already in the session from another connection',
          );
      }
    }
    const { session, members, replaced } = outcome as Extract<typeof outcome, { ok: true }>;
    let turn;
    try {
      await this.audit(() =>
        this.recorder.recordAll(
          [
            ...(replaced
              ? [
                  {
                    type: 'session.peerLeft' as const,
                    data: {
                      sessionId: session.sessionId,
                      peerId: replaced.peerId,
                      reason: 'replaced' as const,
                    },
                  },
                ]
              : []),
            {
              type: 'session.peerJoined' as const,
              data: {
                sessionId: session.sessionId,
                peerId: peer.peerId,
                subject: peer.subject,
                role: peer.role,
                connectionId: peer.connectionId,
                via,
              },
            },
          ],
          context,
        ),
      );
      turn = await this.issueTurn(peer.subject, session.sessionId, peer.peerId, context);
    } catch (error) {
      await this.state.remove(peer.peerId);
      // The replaced peer is already gone from the state and cannot be put back as it was: its
      // connection must not stay bound to a peer that no longer exists. It reconnects and joins.
      if (replaced) {
        await this.state.send(replaced.instance, {
          kind: 'close',
          connectionId: replaced.connectionId,
          code: CloseCode.AuditUnavailable,
          reason: 'audit_unavailable',
          unbind: true,
        });
      }
      throw error;
    }
    if (replaced) {
      await this.state.send(replaced.instance, {
        kind: 'close',
        connectionId: replaced.connectionId,
        code: CloseCode.Replaced,
        reason: 'replaced',
        unbind: true,
      });
    }
    const info = { sessionId: session.sessionId, subject: peer.subject, role: peer.role };
    for (const other of members) {
      if (replaced) {
        await this.push(other.peerId, session.sessionId, 'peer.left', {
          sessionId: session.sessionId,
          peerId: replaced.peerId,
          subject: replaced.subject,
          role: replaced.role,
          reason: 'replaced',
        });
      }
      await this.push(other.peerId, session.sessionId, 'peer.joined', {
        sessionId: session.sessionId,
        peerId: peer.peerId,
        subject: info.subject,
        role: info.role,
      });
    }
    return {
      maxPeers: session.maxPeers,
      members: members.map((p) => ({ peerId: p.peerId, subject: p.subject, role: p.role })),
      iceServers: turn.iceServers,
    };
  }

  /** Sends a sequenced event to a peer (wherever it is); false if it is no longer in the session. */
  private async push(
    to: string,
    sessionId: string,
    event: string,
    data: Record<string, unknown>,
  ): Promise<boolean> {
    return (
      (await this.state.deliver(to, sessionId, event, JSON.stringify(data), this.s.mailboxSize)) !==
      null
    );
  }

  private async askHost(
    c: Connection,
    m: ClientMessageOf<'session.join'>,
    hostPeerId: string,
  ): Promise<void> {
    const { sessionId } = m.data;
    const request: JoinRequestRecord = {
      requestId: newPeerId(),
      sessionId,
      subject: c.token.subject,
      role: c.token.role,
      connectionId: c.id,
      instance: this.config.instanceId,
      replyTo: m.data.id,
      resumeHash: c.resumeHash,
    };
    await this.audit(() =>
      this.recorder.record(
        'session.joinRequested',
        { sessionId, peerId: request.requestId, subject: request.subject, role: request.role },
        this.context(c),
      ),
    );
    // Kept a little past the timeout: the requester's timer, not the store, ends it.
    await this.state.addJoinRequest(request, this.s.joinRequestTimeoutMs + 10_000);
    const timer = setTimeout(
      () => void this.settleUnanswered(c, 'timeout'),
      this.s.joinRequestTimeoutMs,
    );
    timer.unref();
    c.pendingJoin = { requestId: request.requestId, sessionId, replyTo: m.data.id, timer };
    const delivered = await this.push(hostPeerId, sessionId, 'join.requested', {
      sessionId,
      requestId: request.requestId,
      peerId: request.requestId,
      subject: request.subject,
      role: request.role,
    });
    if (!delivered) await this.settleUnanswered(c, 'timeout');
  }

  /** The requester's side ends a pending join request: timed out, or the requester left. */
  private async settleUnanswered(c: Connection, reason: 'timeout' | 'withdrawn'): Promise<void> {
    const pending = c.pendingJoin;
    if (!pending) return;
    clearTimeout(pending.timer);
    c.pendingJoin = null;
    const request = await this.state.takeJoinRequest(pending.sessionId, pending.requestId);
    if (!request) return; // the host decided first
    await this.auditBestEffort('a join request closing', () =>
      this.recorder.record(
        'session.joinDenied',
        {
          sessionId: pending.sessionId,
          peerId: pending.requestId,
          decidedBy: reason === 'timeout' ? this.config.instanceId : request.subject,
          reason,
        },
        reason === 'timeout' ? this.serviceContext : this.context(c),
      ),
    );
    if (reason === 'timeout') {
      c.error(
        pending.replyTo,
        ProtocolErrorCode.JoinDenied,
        'the host did not answer the join request in time',
      );
    }
    const found = await this.state.session(pending.sessionId);
    if (found) {
      await this.push(found.session.hostPeerId, pending.sessionId, 'join.denied', {
        sessionId: pending.sessionId,
        requestId: pending.requestId,
        reason,
      });
    }
  }

  private async requireHost(c: Connection) {
    const peer = this.requirePeer(c);
    const found = await this.state.session(peer.sessionId);
    if (!found || found.session.hostPeerId !== peer.peerId) {
      refuse(ProtocolErrorCode.NotHost, "only the session's host may do this");
    }
    return { peer, session: found!.session, members: found!.members };
  }

  private async accept(c: Connection, m: ClientMessageOf<'join.accept'>): Promise<void> {
    const { peer } = await this.requireHost(c);
    const request = await this.state.takeJoinRequest(peer.sessionId, m.data.requestId);
    if (!request) {
      refuse(ProtocolErrorCode.RequestNotFound, 'no pending join request has this id');
    }
    const r = request!;
    const newcomer: PeerRecord = {
      peerId: r.requestId,
      sessionId: r.sessionId,
      subject: r.subject,
      role: r.role,
      connectionId: r.connectionId,
      instance: r.instance,
    };
    const requesterContext: AuditContext = {
      actor: { type: 'device', id: r.subject },
      correlationId: r.connectionId,
    };
    let joined;
    try {
      await this.audit(() =>
        this.recorder.record(
          'session.joinAccepted',
          { sessionId: r.sessionId, peerId: r.requestId, decidedBy: c.token.subject },
          this.context(c),
        ),
      );
      joined = await this.admit(newcomer, r.resumeHash, 'host-accept', requesterContext);
    } catch (error) {
      const e = error instanceof Refused ? error : null;
      await this.state.send(r.instance, {
        kind: 'frame',
        connectionId: r.connectionId,
        settles: r.requestId,
        frame: JSON.stringify({
          event: 'error',
          data: {
            id: r.replyTo,
            code: e?.code ?? ProtocolErrorCode.InternalError,
            message: e?.message ?? 'the join failed; retry later',
          },
        }),
      });
      throw error;
    }
    await this.state.send(r.instance, {
      kind: 'frame',
      connectionId: r.connectionId,
      settles: r.requestId,
      bind: { peerId: r.requestId, sessionId: r.sessionId },
      frame: JSON.stringify({
        event: 'session.joined',
        data: {
          replyTo: r.replyTo,
          sessionId: r.sessionId,
          peerId: r.requestId,
          maxPeers: joined.maxPeers,
          peers: joined.members,
          iceServers: joined.iceServers,
        },
      }),
    });
    c.ack(m.data.id);
  }

  private async deny(c: Connection, m: ClientMessageOf<'join.deny'>): Promise<void> {
    const { peer } = await this.requireHost(c);
    const request = await this.state.takeJoinRequest(peer.sessionId, m.data.requestId);
    if (!request) {
      refuse(ProtocolErrorCode.RequestNotFound, 'no pending join request has this id');
    }
    const r = request!;
    try {
      await this.audit(() =>
        this.recorder.record(
          'session.joinDenied',
          {
            sessionId: r.sessionId,
            peerId: r.requestId,
            decidedBy: c.token.subject,
            ...(m.data.reason ? { reason: m.data.reason } : {}),
          },
          this.context(c),
        ),
      );
    } catch (error) {
      // Not recorded, so not decided: the request stays pending.
      await this.state.addJoinRequest(r, this.s.joinRequestTimeoutMs + 10_000);
      throw error;
    }
    await this.state.send(r.instance, {
      kind: 'frame',
      connectionId: r.connectionId,
      settles: r.requestId,
      frame: JSON.stringify({
        event: 'error',
        data: {
          id: r.replyTo,
          code: ProtocolErrorCode.JoinDenied,
          message: m.data.reason ? `the host refused: ${m.data.reason}` : 'the host refused',
        },
      }),
    });
    await this.push(peer.peerId, peer.sessionId, 'join.denied', {
      sessionId: peer.sessionId,
      requestId: r.requestId,
      reason: 'denied',
    });
    c.ack(m.data.id);
  }

  private async leave(c: Connection, m: ClientMessageOf<'session.leave'>): Promise<void> {
    if (!c.peer && c.pendingJoin) {
      await this.settleUnanswered(c, 'withdrawn');
      c.ack(m.data.id);
      return;
    }
    const peer = this.requirePeer(c);
    const found = await this.state.session(peer.sessionId);
    const isHost = found?.session.hostPeerId === peer.peerId;
    await this.audit(() =>
      this.recorder.record(
        isHost ? 'session.ended' : 'session.peerLeft',
        isHost
          ? { sessionId: peer.sessionId, reason: 'host-ended' }
          : { sessionId: peer.sessionId, peerId: peer.peerId, reason: 'left' },
        this.context(c),
      ),
    );
    this.unbind(c);
    if (isHost) await this.endSession(peer.sessionId, 'host-ended', peer.peerId, false);
    else await this.removePeer(peer.peerId, 'left', false);
    c.ack(m.data.id);
  }

  private async end(c: Connection, m: ClientMessageOf<'session.end'>): Promise<void> {
    const { peer } = await this.requireHost(c);
    await this.audit(() =>
      this.recorder.record(
        'session.ended',
        { sessionId: peer.sessionId, reason: 'host-ended' },
        this.context(c),
      ),
    );
    this.unbind(c);
    await this.endSession(peer.sessionId, 'host-ended', peer.peerId, false);
    c.ack(m.data.id);
  }

  /**
   * Takes a peer out of its session and tells the others; a host's departure ends the session.
   * `record`: whether to record it here (false when the caller already did).
   */
  private async removePeer(
    peerId: string,
    reason: 'left' | 'disconnected' | 'resume-expired' | 'revoked' | 'kicked',
    record = true,
  ): Promise<void> {
    const removed = await this.state.remove(peerId);
    if (!removed) return;
    const { peer, session, remaining } = removed;
    if (session && session.hostPeerId === peerId) {
      const why = reason === 'revoked' ? 'revoked' : 'host-gone';
      if (record) {
        await this.auditBestEffort('a session ending', () =>
          this.recorder.record(
            'session.ended',
            { sessionId: peer.sessionId, reason: why },
            this.serviceContext,
          ),
        );
      }
      await this.endSession(peer.sessionId, why, peerId, false);
      return;
    }
    if (record) {
      await this.auditBestEffort('a peer leaving', () =>
        this.recorder.record(
          'session.peerLeft',
          { sessionId: peer.sessionId, peerId, reason },
          this.serviceContext,
        ),
      );
    }
    for (const other of remaining) {
      await this.push(other.peerId, peer.sessionId, 'peer.left', {
        sessionId: peer.sessionId,
        peerId,
        subject: peer.subject,
        role: peer.role,
        reason,
      });
    }
  }

  /** Tells every peer the session is over, then removes it. */
  private async endSession(
    sessionId: string,
    reason: 'host-ended' | 'host-gone' | 'lockdown' | 'operator' | 'expired' | 'revoked',
    except: string | null,
    record: boolean,
  ): Promise<void> {
    const found = await this.state.session(sessionId);
    if (!found) return;
    if (record) {
      await this.auditBestEffort('a session ending', () =>
        this.recorder.record('session.ended', { sessionId, reason }, this.serviceContext),
      );
    }
    for (const p of found.members) {
      if (p.peerId !== except)
        await this.push(p.peerId, sessionId, 'session.ended', { sessionId, reason });
    }
    await this.state.endSession(sessionId);
  }

  private async refreshToken(c: Connection, m: ClientMessageOf<'token.refresh'>): Promise<void> {
    let next: VerifiedClientToken;
    try {
      next = await this.verify(m.data.token);
    } catch (error) {
      if (isKeysError(error)) {
        this.metrics.authFailures.inc({ surface: 'signaling', reason: error.code });
        refuse(ProtocolErrorCode.TokenInvalid, `the new token is refused: ${error.code}`);
      }
      throw error;
    }
    if (next!.subject !== c.token.subject || next!.role !== c.token.role) {
      refuse(ProtocolErrorCode.TokenInvalid, 'the new token is for another subject or role');
    }
    c.token = next!;
    c.expiringSent = false;
    c.ack(m.data.id);
  }

  private async resume(c: Connection, m: ClientMessageOf<'session.resume'>): Promise<void> {
    this.notInSession(c);
    const outcome = await this.state.resume(
      sha256(m.data.resumeToken),
      c.token.subject,
      c.resumeHash,
      c.id,
      this.config.instanceId,
    );
    if (!outcome.ok) {
      this.metrics.resumes.inc({ outcome: 'failed' });
      refuse(
        ProtocolErrorCode.ResumeFailed,
        outcome.reason === 'subject'
          ? 'the resume token belongs to another subject'
          : 'nothing to resume: the grace window has passed or the token is unknown; join again',
      );
    }
    const { peer, previous, session, members } = outcome as Extract<typeof outcome, { ok: true }>;
    // The old connection, if still open anywhere, gives way.
    if (previous.connectionId !== c.id) {
      await this.state.send(previous.instance, {
        kind: 'close',
        connectionId: previous.connectionId,
        code: CloseCode.Replaced,
        reason: 'replaced',
        unbind: true,
      });
    }
    this.bind(c, peer.peerId, peer.sessionId, peer.role);
    c.beginReplay(m.data.lastSeq);
    const box = await this.state.readMailbox(peer.peerId, m.data.lastSeq);
    if (!box.complete) {
      c.endReplay([]);
      this.unbind(c);
      this.metrics.resumes.inc({ outcome: 'failed' });
      await this.removePeer(peer.peerId, 'resume-expired');
      refuse(
        ProtocolErrorCode.ResumeFailed,
        'events addressed to this peer were dropped (it fell too far behind); join again',
      );
    }
    let turn;
    try {
      await this.audit(() =>
        this.recorder.record(
          'connection.resumed',
          {
            connectionId: c.id,
            previousConnectionId: previous.connectionId,
            subject: c.token.subject,
            ip: c.ip,
            redelivered: box.entries.length,
          },
          this.context(c),
        ),
      );
      turn = await this.issueTurn(c.token.subject, peer.sessionId, peer.peerId, this.context(c));
    } catch (error) {
      c.endReplay([]);
      this.unbind(c);
      await this.state.away(peer.peerId, c.id, Date.now() + this.s.resumeGraceMs);
      throw error;
    }
    this.metrics.resumes.inc({ outcome: 'resumed' });
    c.send({
      event: 'session.resumed',
      data: {
        replyTo: m.data.id,
        sessionId: session.sessionId,
        peerId: peer.peerId,
        maxPeers: session.maxPeers,
        peers: members.map((p) => ({ peerId: p.peerId, subject: p.subject, role: p.role })),
        iceServers: turn.iceServers,
        redelivered: box.entries.length,
      },
    });
    c.endReplay(box.entries);
  }

  // -------------------------------------------------------------------------------------------
  // Delivery between instances
  // -------------------------------------------------------------------------------------------

  private onInstanceMessage(message: InstanceMessage): void {
    switch (message.kind) {
      case 'deliver': {
        const c = this.byPeer.get(message.peerId);
        if (!c) return;
        c.deliver(message.seq, message.frame, (after) => void this.fill(c, after));
        if (message.frame.startsWith('{"event":"session.ended"')) this.unbind(c);
        return;
      }
      case 'frame': {
        const c = this.byId.get(message.connectionId);
        if (!c) return;
        if (message.settles && c.pendingJoin?.requestId === message.settles) {
          clearTimeout(c.pendingJoin.timer);
          c.pendingJoin = null;
        }
        if (message.bind) {
          this.bind(c, message.bind.peerId, message.bind.sessionId, c.token.role);
        }
        c.sendRaw(message.frame);
        return;
      }
      case 'close': {
        const c = this.byId.get(message.connectionId);
        if (!c) return;
        if (message.unbind) this.unbind(c);
        c.closedBecause = 'replaced';
        c.close(message.code, message.reason);
        return;
      }
    }
  }

  /** Repairs a gap in a connection's events from its mailbox (a lost pub/sub message). */
  private async fill(c: Connection, afterSeq: number): Promise<void> {
    const peer = c.peer;
    if (!peer) return;
    const box = await this.state.readMailbox(peer.peerId, afterSeq);
    if (c.peer !== peer) return;
    c.endReplay(box.entries);
  }

  // -------------------------------------------------------------------------------------------
  // Liveness, expiry, limits
  // -------------------------------------------------------------------------------------------

  private heartbeat(): void {
    const dead = Date.now() - 2 * this.s.heartbeatMs;
    for (const c of this.connections.values()) {
      if (c.lastSeen < dead) {
        c.closedBecause = 'heartbeat_timeout';
        c.close(CloseCode.HeartbeatTimeout, 'heartbeat_timeout');
        setTimeout(() => c.socket.terminate(), 1000).unref();
      } else if (c.open) {
        c.socket.ping();
      }
    }
  }

  private tokenSweep(): void {
    const now = Date.now();
    for (const c of this.connections.values()) {
      const expires = c.token.expiresAt.getTime();
      if (now >= expires) {
        if (!c.closedBecause) {
          c.closedBecause = 'token_expired';
          c.close(CloseCode.TokenExpired, 'token_expired');
        }
      } else if (!c.expiringSent && now >= expires - this.s.tokenRefreshLeadMs) {
        c.expiringSent = true;
        c.send({
          event: 'token.expiring',
          data: { tokenExpiresAt: c.token.expiresAt.toISOString() },
        });
      }
    }
  }

  private async expireAway(): Promise<void> {
    for (const peer of await this.state.expired(Date.now())) {
      this.metrics.resumes.inc({ outcome: 'expired' });
      await this.removePeer(peer.peerId, 'resume-expired');
    }
  }

  private async adoptDeadInstances(): Promise<void> {
    const now = Date.now();
    const adopted = await this.state.adoptDead(now - 10_000, now + this.s.resumeGraceMs);
    for (const a of adopted) {
      this.logger.warn(
        { deadInstance: a.instance, peers: a.peers },
        `instance ${a.instance} stopped beating: its ${a.peers} peers may resume here within ${this.s.resumeGraceMs} ms, then their sessions are told`,
      );
    }
  }

  private cutOff(c: Connection, reason: 'key_revoked' | 'token_revoked'): void {
    if (c.closedBecause) return;
    c.closedBecause = reason;
    this.metrics.revocationDisconnects.inc({ reason });
    c.close(CloseCode.TokenRevoked, reason);
  }

  private async floodClose(c: Connection): Promise<void> {
    if (c.closedBecause) return;
    c.closedBecause = 'rate_limited';
    c.close(CloseCode.RateLimited, 'rate_limited');
    await this.auditBestEffort('a limit hit', () =>
      this.recorder.record(
        'connection.limitHit',
        { connectionId: c.id, ip: c.ip, limit: 'message_rate' },
        this.context(c),
      ),
    );
  }

  /** A ban or lockdown changed: drop the connections it now covers. */
  private enforceGuards(what: 'bans' | 'lockdown'): void {
    for (const c of this.connections.values()) {
      if (c.closedBecause) continue;
      if (what === 'bans' && this.guards.banned(c.ip)) {
        c.closedBecause = 'ip_banned';
        this.metrics.limitHits.inc({ limit: 'ip_banned' });
        c.close(CloseCode.Banned, 'ip_banned');
      } else if (what === 'lockdown' && this.guards.dropsExisting()) {
        c.closedBecause = 'lockdown';
        c.close(CloseCode.Lockdown, 'lockdown');
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // Close
  // -------------------------------------------------------------------------------------------

  private async closed(c: Connection, code: number): Promise<void> {
    this.connections.delete(c.socket);
    this.byId.delete(c.id);
    this.metrics.activeConnections.dec();
    c.release();
    if (code === 1009 || c.frameTooLarge) {
      // ws closed it for a frame over SIGNALING_MAX_FRAME_BYTES, before reading it.
      this.metrics.limitHits.inc({ limit: 'frame_size' });
      await this.auditBestEffort('a limit hit', () =>
        this.recorder.record(
          'connection.limitHit',
          { connectionId: c.id, ip: c.ip, limit: 'frame_size' },
          this.context(c),
        ),
      );
    }
    // Requests still queued are not handled for a closed connection.
    await c.queue;
    if (c.pendingJoin) await this.settleUnanswered(c, 'withdrawn');
    const peer = c.peer;
    if (peer) {
      this.unbind(c);
      const why = c.closedBecause;
      if (why === 'key_revoked' || why === 'token_revoked') {
        await this.removePeer(peer.peerId, 'revoked');
      } else if (why === 'ip_banned' || why === 'lockdown') {
        await this.removePeer(peer.peerId, 'kicked');
      } else if (why !== 'replaced') {
        // Dropped, drained, silent or expired: its place is kept for a resume.
        await this.state.away(peer.peerId, c.id, Date.now() + this.s.resumeGraceMs);
      }
    }
    await this.recordClosed(
      c.id,
      code >= 1000 && code <= 4999 ? code : 1006,
      c.closedBecause ?? 'closed',
      c.openedAt,
    );
  }

  private async recordRejected(
    connectionId: string,
    ip: string,
    reason: Refusal['audit'] & string,
    seen: { userAgent: string | undefined; origin: string | undefined },
  ): Promise<void> {
    await this.recorder
      .record(
        'connection.rejected',
        {
          connectionId,
          ip,
          reason,
          ...(seen.userAgent ? { userAgent: seen.userAgent } : {}),
          ...(seen.origin ? { origin: seen.origin } : {}),
        },
        { actor: { type: 'device', id: `unauthenticated@${ip}`, ip }, correlationId: connectionId },
      )
      .catch((error: unknown) =>
        this.logger.error({ err: error, connectionId }, 'could not record a refused connection'),
      );
  }

  private async recordClosed(
    connectionId: string,
    code: number,
    reason: ServerCloseReason | 'closed' | 'client_gone',
    openedAt: number,
  ): Promise<void> {
    await this.auditBestEffort('a closed connection', () =>
      this.recorder.record(
        'connection.closed',
        { connectionId, code, reason, durationMs: Math.max(0, Date.now() - openedAt) },
        { actor: { type: 'service', id: this.config.instanceId }, correlationId: connectionId },
      ),
    );
  }
}
