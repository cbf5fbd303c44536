/**
 * WebSocket close codes of the gateway (4000–4999 is the application range of RFC 6455).
 * Documented in docs/protocol.md (the gateway sends them, the client library acts on them); a client can tell from the code alone whether to refresh its
 * token, reconnect, or give up.
 */
export const CloseCode = {
  /** The instance is shutting down: reconnect (the balancer picks another) and `session.resume`. */
  Draining: 4100,
  /** No token offered (subprotocol `sscontrol.token.<jwt>` or `Authorization: Bearer`). */
  TokenMissing: 4401,
  /** The token is malformed, forged, for an unknown key, or has invalid claims. */
  TokenInvalid: 4402,
  /** The token expired: mint a new one. */
  TokenExpired: 4403,
  /** The token, or the key that signed it, was revoked (also sent to open connections). */
  TokenRevoked: 4404,
  /** The page's `Origin` is not allowed (`SIGNALING_ALLOWED_ORIGINS`): cross-site socket refused. */
  OriginForbidden: 4406,
  /** No sign of life for two heartbeat intervals, or the peer fell too far behind (mailbox full). */
  HeartbeatTimeout: 4408,
  /** Another connection took this peer's place (duplicate identity `replace`, or a resume). */
  Replaced: 4409,
  /** The service is in lockdown (incident response): no new connections; existing ones dropped if asked. */
  Lockdown: 4423,
  /** Too many connections (per address, per minute, or on the instance), or a sustained message flood. */
  RateLimited: 4429,
  /** The client address (or its network) is banned. */
  Banned: 4451,
  /** The audit trail cannot record the connection: refused (fail closed); retry later. */
  AuditUnavailable: 4503,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];
