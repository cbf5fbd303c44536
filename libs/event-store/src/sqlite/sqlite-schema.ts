import type Database from 'better-sqlite3';
import { randomUUID } from 'node:crypto';
import { EventStoreError, EventStoreErrorCode } from '../event-store.errors.js';

/** Schema version kept in `PRAGMA user_version`. */
export const SQLITE_SCHEMA_VERSION = 1;

const SCHEMA_V1 = `
CREATE TABLE store_meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;
CREATE TABLE events (
  position INTEGER PRIMARY KEY,
  stream_id TEXT NOT NULL,
  revision INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  recorded_at INTEGER NOT NULL,
  metadata TEXT NOT NULL,
  data TEXT NOT NULL,
  data_digest TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX events_stream_revision ON events (stream_id, revision);
CREATE UNIQUE INDEX events_event_id ON events (event_id);
CREATE INDEX events_type_position ON events (type, position);
CREATE TABLE subscriptions (
  name TEXT PRIMARY KEY,
  position INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
`;

/**
 * Opens the connection durably and creates or checks the schema. Refuses a store that cannot run
 * in WAL mode with `synchronous=FULL` (better-sqlite3 builds default WAL to NORMAL, which can
 * lose the last commits on power loss). Returns the store id.
 */
export function openDurably(db: Database.Database): string {
  db.pragma('busy_timeout = 10000');
  const mode = String(db.pragma('journal_mode = WAL', { simple: true })).toLowerCase();
  db.pragma('synchronous = FULL');
  const sync = Number(db.pragma('synchronous', { simple: true }));
  if (mode !== 'wal' || sync !== 2) {
    throw new EventStoreError(
      EventStoreErrorCode.Misconfigured,
      `refusing a SQLite store that is not durable: journal_mode=${mode} synchronous=${sync} (need wal and 2=FULL)`,
    );
  }
  db.pragma('foreign_keys = ON');
  const begin = db.prepare('BEGIN IMMEDIATE');
  begin.run();
  try {
    const version = Number(db.pragma('user_version', { simple: true }));
    if (version === 0) {
      db.exec(SCHEMA_V1);
      db.prepare('INSERT INTO store_meta (key, value) VALUES (?, ?), (?, ?)').run(
        'store_id',
        randomUUID(),
        'created_at',
        new Date().toISOString(),
      );
      db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION}`);
    } else if (version !== SQLITE_SCHEMA_VERSION) {
      throw new EventStoreError(
        EventStoreErrorCode.Misconfigured,
        `SQLite store has schema version ${version}; this release reads version ${SQLITE_SCHEMA_VERSION}`,
      );
    }
    const row = db.prepare("SELECT value FROM store_meta WHERE key = 'store_id'").get() as
      { value: string } | undefined;
    if (!row)
      throw new EventStoreError(EventStoreErrorCode.Misconfigured, 'SQLite store has no store id');
    db.exec('COMMIT');
    return row.value;
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
