/**
 * The gateway's admission controls: the client address behind trusted proxies, the `Origin`
 * check, per-connection message rate, per-address and per-instance connection limits, and the
 * cluster-wide bans and lockdown. Documented in docs/signaling-limits.md.
 */
export {
  LimitsError,
  LimitsErrorCode,
  exitCodeOfLimitsError,
  isLimitsError,
} from './limits.errors.js';
export { normalizeAddress } from './ip-address.js';
export { UNKNOWN_ADDRESS, createClientAddressResolver } from './client-address.js';
export type { AddressedRequest, ClientAddressResolver } from './client-address.js';
export { createOriginPolicy } from './origin-policy.js';
export type { OriginPolicy } from './origin-policy.js';
export { FLOOD_FACTOR, TokenBucket } from './token-bucket.js';
export type { TokenBucketOptions } from './token-bucket.js';
export { ConnectionLimiter } from './connection-limiter.js';
export type { ConnectionLimit, ConnectionLimits, OpenOutcome } from './connection-limiter.js';
export { banTargetSchema, parseBanTarget } from './ban-list.js';
export type { BanChange, BanEntry, BanList, BanOptions } from './ban-list.js';
export { MemoryBanList } from './memory-ban-list.js';
export type { MemoryBanListOptions } from './memory-ban-list.js';
export { RedisBanList } from './redis-ban-list.js';
export type { RedisBanListOptions } from './redis-ban-list.js';
export { NOT_LOCKED_DOWN } from './lockdown.js';
export type { Lockdown, LockdownListener, LockdownOptions, LockdownState } from './lockdown.js';
export { MemoryLockdown } from './memory-lockdown.js';
export type { MemoryLockdownOptions } from './memory-lockdown.js';
export { RedisLockdown } from './redis-lockdown.js';
export type { RedisLockdownOptions } from './redis-lockdown.js';
