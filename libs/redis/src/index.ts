export { RedisConnection, applyPassword } from './redis-connection.js';
export type { RedisConnectionOptions, RedisState } from './redis-connection.js';
export {
  RedisPasswordError,
  RedisPasswordErrorCode,
  aclPasswordHash,
  isRedisPasswordError,
  reconcileAclPasswords,
} from './redis-acl-passwords.js';
