import { CloseCode } from '@sscontrol/protocol';

/** The gateway's close codes (`@sscontrol/protocol`), under the name this library has used. */
export const GatewayCloseCode = CloseCode;

/** What the client does after its connection closed. */
export type CloseAction =
  /** Reconnect at once and resume (the instance is draining; another takes over). */
  | 'reconnect-now'
  /** Reconnect with backoff from the initial delay, and resume. */
  | 'reconnect'
  /** Reconnect with backoff, waiting at least the slow-down delay: the server asked for it. */
  | 'backoff'
  /** Do not reconnect: the same token or identity would be refused again; tell the user. */
  | 'stop';

/**
 * The client's reaction to a close code:
 * - 4100 draining → reconnect at once, resume;
 * - 4401–4404 (token missing, invalid, expired, revoked), 4406 (origin), 4451 (banned), 1008
 *   (policy) → stop and surface — except 4403 (expired) when the client can get a fresh token
 *   (`canRefreshToken`): the gateway keeps the peer for the resume grace, so reconnect with the new
 *   token and resume;
 * - 4409 replaced (another connection took this peer's place) → stop;
 * - 4429 rate limited, 4503 audit unavailable, 4423 lockdown, 1011/1013 (server error, try again
 *   later) → backoff;
 * - anything else — 4408 heartbeat timeout, 1006 (no close frame: the network), 1001 going away,
 *   1000 — → reconnect with backoff, resume.
 */
export function closeAction(code: number, canRefreshToken = false): CloseAction {
  switch (code) {
    case GatewayCloseCode.Draining:
      return 'reconnect-now';
    case GatewayCloseCode.TokenExpired:
      return canRefreshToken ? 'reconnect' : 'stop';
    case GatewayCloseCode.TokenMissing:
    case GatewayCloseCode.TokenInvalid:
    case GatewayCloseCode.TokenRevoked:
    case GatewayCloseCode.OriginForbidden:
    case GatewayCloseCode.Banned:
    case GatewayCloseCode.Replaced:
    case 1008:
      return 'stop';
    case GatewayCloseCode.RateLimited:
    case GatewayCloseCode.AuditUnavailable:
    case GatewayCloseCode.Lockdown:
    case 1011:
    case 1013:
      return 'backoff';
    default:
      return 'reconnect';
  }
}
