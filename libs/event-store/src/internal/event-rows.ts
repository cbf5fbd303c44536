import type { ChainRecord } from '../chain.js';
import type { RecordedEvent } from '../event-store.js';

/** The columns of the SQL backends' `events` table, in the order {@link EventRow} holds them. */
export const EVENT_COLUMNS =
  'position, stream_id, revision, event_id, type, schema_version, recorded_at, metadata, data, data_digest, prev_hash, hash';

/** A row of the `events` table read as an array (SQLite raw mode, node-postgres `rowMode: 'array'`). */
export type EventRow = [
  position: number,
  streamId: string,
  revision: number,
  eventId: string,
  type: string,
  schemaVersion: number,
  recordedAtMs: number,
  metadataJson: string,
  dataJson: string,
  dataDigest: string,
  prevHash: string,
  hash: string,
];

export function rowToEvent(r: EventRow): RecordedEvent {
  return {
    position: r[0],
    streamId: r[1],
    revision: r[2],
    id: r[3],
    type: r[4],
    schemaVersion: r[5],
    recordedAt: new Date(r[6]),
    metadata: JSON.parse(r[7]) as Record<string, unknown>,
    data: JSON.parse(r[8]) as unknown,
    hash: r[11],
  };
}

export function rowToChainRecord(r: EventRow): ChainRecord {
  return {
    position: r[0],
    streamId: r[1],
    revision: r[2],
    eventId: r[3],
    type: r[4],
    schemaVersion: r[5],
    recordedAtMs: r[6],
    metadataJson: r[7],
    dataJson: r[8],
    dataDigest: r[9],
    prevHash: r[10],
    hash: r[11],
  };
}
