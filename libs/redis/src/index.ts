export { RedisConnection } from './redis-connection.js';
export type { RedisConnectionOptions, RedisState } from './redis-connection.js';
