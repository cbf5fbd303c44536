export * from './event-store.js';
export * from './event-store.errors.js';
export { canonicalJson } from './canonical-json.js';
export { CHAIN_VERSION, chainHash, genesisHash, payloadDigest } from './chain.js';
export type { ChainFields, ChainRecord } from './chain.js';
export { ChainBreakClass, ChainVerifier } from './chain-verifier.js';
export type { ChainBreak, ChainSummary, ChainVerifierOptions } from './chain-verifier.js';
export { uuidv7, uuidv7Time, isUuid } from './uuid-v7.js';
export { createSqliteEventStore, SQLITE_DURABILITY } from './sqlite/sqlite-event-store.js';
export type { SqliteEventStoreOptions } from './sqlite/sqlite-event-store.js';
export { createPostgresEventStore } from './postgres/postgres-event-store.js';
export type { PostgresEventStoreOptions } from './postgres/postgres-event-store.js';
export {
  migratePostgres,
  loadMigrations,
  checkPostgresSchema,
} from './postgres/postgres-migrations.js';
export type { Migration, MigrationReport } from './postgres/postgres-migrations.js';
export { openEventStore } from './open-event-store.js';
export type { BatchSettings, EventStoreSettings } from './open-event-store.js';
export { verifyChain } from './verify/verify-chain.js';
export type { ChainReport, VerifyChainOptions } from './verify/verify-chain.js';
export { EVENT_STORE, EventStoreModule } from './event-store.module.js';
