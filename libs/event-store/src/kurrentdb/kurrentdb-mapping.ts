import {
  ANY as KDB_ANY,
  NO_STREAM as KDB_NO_STREAM,
  START,
  STREAM_EXISTS as KDB_STREAM_EXISTS,
  type AppendStreamState,
  type Position,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import { canonicalJson } from '../canonical-json.js';
import { chainHash, payloadDigest, type ChainFields, type ChainRecord } from '../chain.js';
import {
  EventStoreError,
  EventStoreErrorCode,
  WrongExpectedRevisionError,
} from '../event-store.errors.js';
import type { RecordedEvent } from '../event-store.js';
import { checkName, describeExpected } from '../internal/prepare.js';

/**
 * Pure mapping between sscontrol's event store and KurrentDB: stream names, positions, the stored
 * event envelope, chain records and errors. Nothing here talks to a server, so it is unit-tested.
 */

/** Logical stream ids with this prefix name the adapter's own streams (appends are refused). */
export const RESERVED_STREAM_PREFIX = 'sscontrol-';

/** Event type of a chain record in the chain stream. */
export const CHAIN_SEALED_TYPE = 'chain.sealed';
/** Event type of the single event of the store stream. */
export const STORE_CREATED_TYPE = 'store.created';
/** Event type of a persisted subscription position. */
export const SUBSCRIPTION_CHECKPOINTED_TYPE = 'subscription.checkpointed';
/** Event type of an event id claim. */
export const ID_CLAIMED_TYPE = 'id.claimed';

/** KurrentDB names of the adapter's own streams under a store prefix. */
export interface InternalStreams {
  /** Chain records (`chain.sealed`), appended by the sealer with optimistic concurrency. */
  readonly chain: string;
  /** One `store.created` event holding the store id. */
  readonly store: string;
  /** Persisted position of a named subscription (`$maxCount: 1`). */
  subscription(name: string): string;
  /** Binds a caller-supplied event id to the stream it was first appended to. */
  claim(eventId: string): string;
}

/** The adapter's own streams for a prefix. */
export function internalStreams(prefix: string): InternalStreams {
  return {
    chain: `${prefix}${RESERVED_STREAM_PREFIX}chain`,
    store: `${prefix}${RESERVED_STREAM_PREFIX}store`,
    subscription: (name) => `${prefix}${RESERVED_STREAM_PREFIX}subscription-${name}`,
    claim: (eventId) => `${prefix}${RESERVED_STREAM_PREFIX}id-${eventId}`,
  };
}

/**
 * Validates a logical stream id. Besides the common rules, refuses ids in the adapter's reserved
 * namespace and ids starting with `$`: with an empty prefix they would be KurrentDB system streams
 * (`$$x` is the metadata of stream `x`).
 */
export function checkStreamId(streamId: unknown): string {
  const id = checkName('stream id', streamId);
  if (id.startsWith('$') || id.startsWith(RESERVED_STREAM_PREFIX)) {
    throw new EventStoreError(
      EventStoreErrorCode.InvalidEvent,
      `stream ids starting with $ or ${RESERVED_STREAM_PREFIX} are reserved on KurrentDB`,
    );
  }
  return id;
}

/** The logical stream id of a KurrentDB stream of this store, or null when it is not one. */
export function logicalStreamId(prefix: string, kurrentStream: string): string | null {
  if (!kurrentStream.startsWith(prefix)) return null;
  const id = kurrentStream.slice(prefix.length);
  if (id.length === 0 || id.startsWith('$') || id.startsWith(RESERVED_STREAM_PREFIX)) return null;
  return id;
}

/**
 * Server-side stream-name filter (a .NET regex) that keeps this store's logical streams and
 * drops its own bookkeeping streams and, without a prefix, KurrentDB's `$` system streams. Reads
 * and the sealer then never fetch chain records or checkpoints only to discard them.
 */
export function storeStreamsRegex(prefix: string): string {
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\#\s-]/g, '\\$&');
  return `^${escaped}(?!${RESERVED_STREAM_PREFIX}|\\$)`;
}

/** Maps an encoded expected revision (see `prepare.ts`) to the client's `streamState`. */
export function toStreamState(expected: number): AppendStreamState {
  switch (expected) {
    case -1:
      return KDB_ANY;
    case -2:
      return KDB_NO_STREAM;
    case -3:
      return KDB_STREAM_EXISTS;
    default:
      if (!Number.isSafeInteger(expected) || expected < 0) {
        throw new RangeError(`not an encoded expected revision: ${expected}`);
      }
      return BigInt(expected);
  }
}

/**
 * The global position of an event: its `$all` commit position. Events appended through the gRPC
 * API are written as self-committing prepares, so each has its own commit position (equal to its
 * prepare position): positions are unique and increase along `$all`, but are byte offsets in the
 * transaction log, hence not gapless.
 */
export function positionToNumber(position: Position): number {
  if (position.commit < 0n || position.commit > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new EventStoreError(
      EventStoreErrorCode.Misconfigured,
      `KurrentDB position ${position.commit} is outside 0..2^53`,
    );
  }
  return Number(position.commit);
}

/**
 * Where a forward `$all` read starts to see the event at `position` first. KurrentDB's forward
 * reads are inclusive of their start, so callers drop events at or before the position they
 * resume after. Position 0 holds no event (the log starts with an epoch record), so it means the
 * start of the log.
 */
export function toReadPosition(position: number): ReadPosition {
  if (position <= 0) return START;
  const p = BigInt(position);
  return { commit: p, prepare: p };
}

/** The metadata object stored with each event. */
export interface StoredMetadata {
  readonly sscontrol: {
    /** Schema version of the payload. */
    readonly v: number;
    /**
     * SHA-256 of the canonical payload as appended. KurrentDB's redactor blanks payloads but keeps
     * metadata, so the chain can still tell an authorised redaction from a modification.
     */
    readonly d: string;
  };
  /** The caller's metadata. */
  readonly app: Record<string, unknown>;
}

/** Wraps a prepared event's metadata for storage. */
export function wrapMetadata(event: {
  readonly schemaVersion: number;
  readonly dataDigest: string;
  readonly metadataJson: string;
}): StoredMetadata {
  return {
    sscontrol: { v: event.schemaVersion, d: event.dataDigest },
    app: JSON.parse(event.metadataJson) as Record<string, unknown>,
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const DIGEST = /^[0-9a-f]{64}$/;

/** Metadata read back from a stored event. */
export interface UnwrappedMetadata {
  readonly schemaVersion: number;
  /** The digest recorded at append time, or null when absent. */
  readonly dataDigest: string | null;
  /** The caller's metadata without `$`-prefixed keys. */
  readonly metadata: Record<string, unknown>;
  /** Canonical JSON of `metadata`. */
  readonly metadataJson: string;
}

/**
 * Unwraps stored metadata, or returns null when it is not sscontrol's envelope (an event some
 * other writer put under the prefix). Top-level `$` keys, which instrumentation such as
 * `@kurrent/opentelemetry` adds (`$traceId`, `$spanId`), are ignored at both levels.
 */
export function unwrapMetadata(raw: unknown): UnwrappedMetadata | null {
  if (!isPlainObject(raw)) return null;
  const envelope = raw['sscontrol'];
  const app = raw['app'];
  if (!isPlainObject(envelope) || !isPlainObject(app)) return null;
  const v = envelope['v'];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) return null;
  const d = envelope['d'];
  const metadata: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(app)) {
    if (!key.startsWith('$')) metadata[key] = value;
  }
  return {
    schemaVersion: v,
    dataDigest: typeof d === 'string' && DIGEST.test(d) ? d : null,
    metadata,
    metadataJson: canonicalJson(metadata),
  };
}

/** The fields of a client event the adapter reads (both `readStream` and `readAll` give them). */
export interface ClientEvent {
  readonly streamId: string;
  readonly id: string;
  readonly revision: bigint;
  readonly type: string;
  readonly created: Date;
  readonly isJson: boolean;
  readonly data: unknown;
  readonly metadata: unknown;
  readonly position?: Position | undefined;
}

/** An event of this store as read from KurrentDB, with the exact strings the chain hashes. */
export interface StoredEvent {
  readonly position: number;
  readonly streamId: string;
  readonly revision: number;
  readonly id: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
  /** Canonical JSON of the stored payload: what was appended, unless it was changed since. */
  readonly dataJson: string;
  /** The digest recorded at append time (falls back to the stored payload's digest). */
  readonly dataDigest: string;
  readonly metadata: Record<string, unknown>;
  readonly metadataJson: string;
  readonly recordedAt: Date;
}

/**
 * Maps a client event to an event of this store, or null when it is not one: outside the prefix,
 * in an internal stream, not JSON, or without sscontrol's metadata envelope. The sealer and every
 * read apply this same test, so the chain covers exactly what reads return.
 */
export function toStoredEvent(prefix: string, event: ClientEvent): StoredEvent | null {
  if (!event.isJson || !event.position) return null;
  const streamId = logicalStreamId(prefix, event.streamId);
  if (streamId === null) return null;
  const meta = unwrapMetadata(event.metadata);
  if (!meta) return null;
  // The client parses JSON payloads (and hands back the raw text when that fails, e.g. after a
  // redaction); data was canonical JSON when appended, so re-encoding gives the exact string.
  const dataJson = canonicalJson(event.data);
  return {
    position: positionToNumber(event.position),
    streamId,
    revision: Number(event.revision),
    id: event.id,
    type: event.type,
    schemaVersion: meta.schemaVersion,
    data: event.data,
    dataJson,
    dataDigest: meta.dataDigest ?? payloadDigest(dataJson),
    metadata: meta.metadata,
    metadataJson: meta.metadataJson,
    recordedAt: event.created,
  };
}

/** The chain fields of a stored event. */
export function chainFieldsOf(event: StoredEvent): ChainFields {
  return {
    streamId: event.streamId,
    revision: event.revision,
    eventId: event.id,
    type: event.type,
    schemaVersion: event.schemaVersion,
    recordedAtMs: event.recordedAt.getTime(),
    metadataJson: event.metadataJson,
    dataDigest: event.dataDigest,
  };
}

/** The public shape of a stored event with its chain hash. */
export function toRecordedEvent(event: StoredEvent, hash: string): RecordedEvent {
  return {
    position: event.position,
    streamId: event.streamId,
    revision: event.revision,
    id: event.id,
    type: event.type,
    schemaVersion: event.schemaVersion,
    data: event.data,
    metadata: event.metadata,
    recordedAt: event.recordedAt,
    hash,
  };
}

/** One event of a chain record: `[position, streamId, revision, eventId, prevHash, hash]`. */
export type ChainEntry = readonly [
  position: number,
  streamId: string,
  revision: number,
  eventId: string,
  prevHash: string,
  hash: string,
];

/** Data of a `chain.sealed` event. */
export interface ChainSealedData {
  readonly entries: readonly ChainEntry[];
}

/** Chains events (in `$all` order) onto `prevHash`. */
export function sealEntries(prevHash: string, events: readonly StoredEvent[]): ChainEntry[] {
  const entries: ChainEntry[] = [];
  let prev = prevHash;
  for (const e of events) {
    const hash = chainHash(prev, chainFieldsOf(e));
    entries.push([e.position, e.streamId, e.revision, e.id, prev, hash]);
    prev = hash;
  }
  return entries;
}

function malformed(revision: bigint | number): EventStoreError {
  return new EventStoreError(
    EventStoreErrorCode.Misconfigured,
    `chain record ${revision} is malformed: the chain stream was written by something else`,
  );
}

/** Decodes and checks the data of a `chain.sealed` event at `revision` of the chain stream. */
export function decodeChainEntries(data: unknown, revision: bigint | number): ChainEntry[] {
  if (!isPlainObject(data) || !Array.isArray(data['entries'])) throw malformed(revision);
  const entries = data['entries'] as unknown[];
  let last = 0;
  for (const entry of entries) {
    if (
      !Array.isArray(entry) ||
      entry.length !== 6 ||
      typeof entry[0] !== 'number' ||
      !Number.isSafeInteger(entry[0]) ||
      entry[0] <= last ||
      typeof entry[1] !== 'string' ||
      typeof entry[2] !== 'number' ||
      typeof entry[3] !== 'string' ||
      typeof entry[4] !== 'string' ||
      typeof entry[5] !== 'string'
    ) {
      throw malformed(revision);
    }
    last = entry[0];
  }
  if (entries.length === 0) throw malformed(revision);
  return entries as ChainEntry[];
}

/**
 * A chain record as the verifier reads it: the stored event's content (so a modified event no
 * longer matches) with the hashes the sealer committed for its position.
 */
export function toChainRecord(event: StoredEvent, prevHash: string, hash: string): ChainRecord {
  return {
    ...chainFieldsOf(event),
    position: event.position,
    prevHash,
    hash,
    dataJson: event.dataJson,
  };
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/?#]*@)?([^/?#]*)/i;

/** Where a connection string points, without credentials or options (for `info.location`). */
export function describeConnection(connectionString: string): string {
  const m = SCHEME.exec(connectionString.trim());
  return m ? `${m[1]!.toLowerCase()}://${m[2]}` : 'kurrentdb';
}

/**
 * Removes credentials from text that may quote the connection string: the user-info part of any
 * URL, and the password itself wherever it appears (raw or URL-encoded).
 */
export function redactSecrets(text: string, connectionString: string): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^@/?#\s]*@/gi, '$1');
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^@/?#]*)@/i.exec(connectionString.trim());
  const userInfo = m?.[1];
  if (userInfo) {
    const colon = userInfo.indexOf(':');
    const encoded = colon >= 0 ? userInfo.slice(colon + 1) : '';
    const secrets = new Set([userInfo, encoded]);
    try {
      secrets.add(decodeURIComponent(encoded));
    } catch {
      // A malformed escape cannot have been sent decoded.
    }
    // Very short strings would blank out unrelated text and hide nothing worth hiding.
    for (const secret of secrets)
      if (secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out;
}

/** The kind (`ErrorType` of `@kurrent/kurrentdb-client`) of a client error, else undefined. */
export function clientErrorType(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const type = (error as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

/** A client's current-state value as a revision, or null for no stream (or a deleted one). */
export function actualRevision(state: unknown): number | null {
  if (typeof state === 'bigint') return state >= 0n ? Number(state) : null;
  if (typeof state === 'number') return state >= 0 ? state : null;
  return null;
}

/**
 * Maps a client failure to the store's errors. A conflict becomes `WrongExpectedRevisionError`
 * (only when `conflict` names the append), a payload the server refuses as too large becomes
 * `event_store_invalid_event`, and everything else (unavailable, deadline exceeded, not leader,
 * connection and discovery failures, access denied) becomes `event_store_unavailable`. Messages
 * never carry credentials, and the client's error is not attached as `cause` because its fields
 * may quote the connection string.
 */
export function toEventStoreError(
  error: unknown,
  connectionString: string,
  what: string,
  conflict?: { readonly streamId: string; readonly expected: number },
): EventStoreError {
  if (error instanceof EventStoreError) return error;
  const type = clientErrorType(error);
  if (type === 'wrong-expected-version' && conflict) {
    const actual = actualRevision((error as { actualState?: unknown }).actualState);
    return new WrongExpectedRevisionError(
      conflict.streamId,
      describeExpected(conflict.expected),
      actual,
    );
  }
  const raw = error instanceof Error ? error.message : String(error);
  const message = redactSecrets(raw, connectionString).slice(0, 500);
  if (type === 'maximum-append-size-exceeded' || type === 'append-record-size-exceeded') {
    return new EventStoreError(
      EventStoreErrorCode.InvalidEvent,
      `KurrentDB refused to ${what}: the append is larger than the server accepts (${message})`,
    );
  }
  const kind = type ?? (error instanceof Error ? error.name : 'error');
  return new EventStoreError(
    EventStoreErrorCode.Unavailable,
    `KurrentDB could not ${what}: ${kind}: ${message}`,
  );
}
