import type { IncomingMessage } from 'node:http';
import { Inject, type OnApplicationBootstrap } from '@nestjs/common';
import { WebSocketGateway, type OnGatewayConnection } from '@nestjs/websockets';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { AuditRecorder } from '@sscontrol/audit';
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
import { LOGGER, Metrics } from '@sscontrol/telemetry';
import { CloseCode, closeForTokenError } from './close-codes.js';

/** Subprotocol of protocol v1; the token rides as a second one: `sscontrol.token.<jwt>`. */
export const PROTOCOL = 'sscontrol.v1';
const TOKEN_PROTOCOL = 'sscontrol.token.';

interface Connection {
  readonly id: string;
  readonly socket: WebSocket;
  readonly token: VerifiedClientToken;
  readonly openedAt: number;
  /** Why the server closed it, when it did. */
  closedBecause: 'key_revoked' | 'token_revoked' | null;
}

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

function clientIp(req: IncomingMessage): string {
  const raw = req.socket.remoteAddress ?? '0.0.0.0';
  return raw.startsWith('::ffff:') ? raw.slice(7) : raw;
}

/**
 * Authenticates every WebSocket at the handshake with a client token from the key ring, and
 * cuts off, within a second on every instance, the connections whose token or signing key is
 * revoked. Every outcome is an audit event (`connection.opened`, `connection.rejected`,
 * `connection.closed`); a connection the trail cannot record is refused (4503).
 * The session protocol itself (offer/answer, sessions, resume) builds on this (docs/protocol.md).
 */
@WebSocketGateway({
  path: '/ws',
  // The token is not a protocol to agree on: answer with `sscontrol.v1` only, never echo it.
  handleProtocols: (protocols: Set<string>) => (protocols.has(PROTOCOL) ? PROTOCOL : false),
  maxPayload: 64 * 1024,
})
export class ClientAuthGateway implements OnGatewayConnection<WebSocket>, OnApplicationBootstrap {
  private readonly connections = new Map<WebSocket, Connection>();

  constructor(
    @Inject(KEYS) private readonly keys: KeysRuntime,
    @Inject(AuditRecorder) private readonly recorder: AuditRecorder,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
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
  }

  /** Open authenticated connections (for health and tests). */
  get size(): number {
    return this.connections.size;
  }

  async handleConnection(socket: WebSocket, req: IncomingMessage): Promise<void> {
    const connectionId = uuidv7();
    const ip = clientIp(req);
    const userAgent = req.headers['user-agent']?.slice(0, 512);
    const origin = req.headers.origin?.slice(0, 300);
    const token = offeredToken(req);
    let verified: VerifiedClientToken;
    try {
      if (!token) {
        await this.reject(
          socket,
          connectionId,
          ip,
          CloseCode.TokenMissing,
          'token_missing',
          userAgent,
          origin,
        );
        return;
      }
      verified = await this.verify(token);
    } catch (error) {
      if (isKeysError(error) && (TOKEN_ERROR_CODES as readonly string[]).includes(error.code)) {
        const close = closeForTokenError(error.code as TokenErrorCode);
        this.metrics.authFailures.inc({ surface: 'signaling', reason: error.code });
        await this.reject(socket, connectionId, ip, close.code, close.reason, userAgent, origin);
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
      this.logger.error(
        { err: error, connectionId },
        'connection refused: audit trail unavailable',
      );
      socket.close(CloseCode.AuditUnavailable, 'audit_unavailable');
      return;
    }
    if (socket.readyState !== socket.OPEN) {
      // The client left while its connection was being recorded.
      await this.recordClosed(connectionId, 1006, 'client_gone', Date.now());
      return;
    }
    const connection: Connection = {
      id: connectionId,
      socket,
      token: verified,
      openedAt: Date.now(),
      closedBecause: null,
    };
    this.connections.set(socket, connection);
    this.metrics.activeConnections.inc();
    socket.once('close', (code: number) => void this.closed(connection, code));
    // A revocation that landed while the connection was being recorded must not be missed.
    if (this.keys.keyring.statusOf(verified.keyId) === 'revoked')
      this.cutOff(connection, 'key_revoked');
    else if (this.keys.keyring.isTokenRevoked(verified.tokenId))
      this.cutOff(connection, 'token_revoked');
    else {
      socket.send(
        JSON.stringify({
          event: 'welcome',
          data: {
            protocol: PROTOCOL,
            connectionId,
            subject: verified.subject,
            role: verified.role,
            sessions: verified.sessions,
            tokenExpiresAt: verified.expiresAt.toISOString(),
            instance: this.config.instanceId,
          },
        }),
      );
    }
  }

  private async closed(connection: Connection, code: number): Promise<void> {
    this.connections.delete(connection.socket);
    this.metrics.activeConnections.dec();
    await this.recordClosed(
      connection.id,
      code >= 1000 && code <= 4999 ? code : 1006,
      connection.closedBecause ?? 'closed',
      connection.openedAt,
    );
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

  private cutOff(connection: Connection, reason: 'key_revoked' | 'token_revoked'): void {
    if (connection.closedBecause) return;
    connection.closedBecause = reason;
    this.metrics.revocationDisconnects.inc({ reason });
    connection.socket.close(CloseCode.TokenRevoked, reason);
  }

  private async reject(
    socket: WebSocket,
    connectionId: string,
    ip: string,
    code: CloseCode,
    reason: 'token_missing' | 'token_invalid' | 'token_expired' | 'token_revoked' | 'key_revoked',
    userAgent: string | undefined,
    origin: string | undefined,
  ): Promise<void> {
    // Close first: a refused client learns nothing more and costs nothing more.
    socket.close(code, reason);
    await this.recorder
      .record(
        'connection.rejected',
        {
          connectionId,
          ip,
          reason,
          ...(userAgent ? { userAgent } : {}),
          ...(origin ? { origin } : {}),
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
    reason: string,
    openedAt: number,
  ): Promise<void> {
    await this.recorder
      .record(
        'connection.closed',
        { connectionId, code, reason, durationMs: Math.max(0, Date.now() - openedAt) },
        { actor: { type: 'service', id: this.config.instanceId }, correlationId: connectionId },
      )
      .catch((error: unknown) =>
        this.logger.error({ err: error, connectionId }, 'could not record a closed connection'),
      );
  }
}
