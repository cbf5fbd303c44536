import { canonicalJson } from '../canonical-json.js';
import { payloadDigest } from '../chain.js';
import { EventStoreError, EventStoreErrorCode } from '../event-store.errors.js';
import {
  ANY,
  NO_STREAM,
  STREAM_EXISTS,
  type EventToAppend,
  type ExpectedRevision,
} from '../event-store.js';
import { isUuid, uuidv7 } from '../uuid-v7.js';

/** Largest canonical payload + metadata of one event. */
export const MAX_EVENT_BYTES = 4 * 1024 * 1024;
/** Most events in one append. */
export const MAX_EVENTS_PER_APPEND = 10_000;

/** An event validated and encoded for storage. */
export interface PreparedEvent {
  readonly id: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly metadataJson: string;
  readonly dataJson: string;
  readonly dataDigest: string;
}

/** One append as the backends receive it. */
export interface PreparedAppend {
  readonly streamId: string;
  /** -1 any, -2 no stream, -3 stream exists, >= 0 exact revision. */
  readonly expected: number;
  readonly events: readonly PreparedEvent[];
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function invalid(message: string): never {
  throw new EventStoreError(EventStoreErrorCode.InvalidEvent, message);
}

/** Validates a stream id or event type: non-empty, at most 200 characters, no control characters. */
export function checkName(
  kind: 'stream id' | 'event type' | 'subscription name',
  value: unknown,
): string {
  if (
    typeof value !== 'string' ||
    value.length === 0 ||
    value.length > 200 ||
    CONTROL.test(value)
  ) {
    invalid(`${kind} must be 1-200 characters without control characters`);
  }
  return value;
}

export function encodeExpected(expected: ExpectedRevision | undefined): number {
  switch (expected) {
    case undefined:
    case ANY:
      return -1;
    case NO_STREAM:
      return -2;
    case STREAM_EXISTS:
      return -3;
    default:
      if (!Number.isSafeInteger(expected) || expected < 0) {
        invalid(`expected revision must be any, no_stream, stream_exists or a revision >= 0`);
      }
      return expected;
  }
}

export function describeExpected(expected: number): string | number {
  return expected === -1
    ? ANY
    : expected === -2
      ? NO_STREAM
      : expected === -3
        ? STREAM_EXISTS
        : expected;
}

/** True when a stream at `current` (null: absent) satisfies `expected` (encoded). */
export function expectationHolds(expected: number, current: number | null): boolean {
  switch (expected) {
    case -1:
      return true;
    case -2:
      return current === null;
    case -3:
      return current !== null;
    default:
      return current === expected;
  }
}

/** Canonical JSON of metadata; rejects `$`-prefixed keys, which belong to the store. */
export function encodeMetadata(metadata: Record<string, unknown> | undefined): string {
  if (metadata === undefined) return '{}';
  if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
    invalid('metadata must be a JSON object');
  }
  for (const key of Object.keys(metadata)) {
    if (key.startsWith('$')) invalid(`metadata key ${key} is reserved for the store`);
  }
  return canonicalJson(metadata);
}

/** Validates and encodes an append. */
export function prepareAppend(
  streamId: string,
  events: readonly EventToAppend[],
  expectedRevision: ExpectedRevision | undefined,
): PreparedAppend {
  checkName('stream id', streamId);
  const list: unknown = events;
  if (!Array.isArray(list) || list.length === 0) invalid('an append needs at least one event');
  if (events.length > MAX_EVENTS_PER_APPEND)
    invalid(`at most ${MAX_EVENTS_PER_APPEND} events per append`);
  const seen = new Set<string>();
  const prepared = events.map((e, i): PreparedEvent => {
    const type = checkName('event type', e.type);
    const id = e.id ?? uuidv7();
    if (typeof id !== 'string' || !isUuid(id)) invalid(`event ${i}: id must be a lower-case UUID`);
    if (seen.has(id)) invalid(`event ${i}: id ${id} appears twice in the append`);
    seen.add(id);
    const schemaVersion = e.schemaVersion ?? 1;
    if (!Number.isSafeInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > 1_000_000) {
      invalid(`event ${i}: schemaVersion must be a positive integer`);
    }
    const dataJson = canonicalJson(e.data);
    const metadataJson = encodeMetadata(e.metadata);
    if (Buffer.byteLength(dataJson) + Buffer.byteLength(metadataJson) > MAX_EVENT_BYTES) {
      invalid(`event ${i}: payload and metadata exceed ${MAX_EVENT_BYTES} bytes`);
    }
    return { id, type, schemaVersion, metadataJson, dataJson, dataDigest: payloadDigest(dataJson) };
  });
  return { streamId, expected: encodeExpected(expectedRevision), events: prepared };
}
