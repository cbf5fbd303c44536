export { tempDir } from './temp-dir.js';
export { freePort } from './free-port.js';
export { packageRootDir } from './package-root.js';
export { createTestPostgresSchema } from './postgres-schema.js';
export type { TestPostgresSchema } from './postgres-schema.js';
export { startRedisServer } from './redis-server.js';
export type { TestRedisOptions, TestRedisServer } from './redis-server.js';
export { collect, describeEventStoreContract } from './event-store-contract.js';
export type { EventStoreContractOptions, EventStoreFactory } from './event-store-contract.js';
