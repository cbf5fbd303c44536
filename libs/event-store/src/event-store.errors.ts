/** Codes of {@link EventStoreError}; mapped to transports only at the edges. */
export enum EventStoreErrorCode {
  /** The stream is not at the revision the append expected. */
  WrongExpectedRevision = 'event_store_wrong_expected_revision',
  /** An event id is already recorded, elsewhere or with other content. */
  DuplicateEvent = 'event_store_duplicate_event',
  /** A stream id, type, id, metadata or payload is malformed or too large. */
  InvalidEvent = 'event_store_invalid_event',
  /** The store could not make the append durable (I/O error, disk full, connection lost). Nothing was recorded. */
  Unavailable = 'event_store_unavailable',
  /** Too many appends are queued; the caller should back off. Nothing was recorded. */
  Overloaded = 'event_store_overloaded',
  /** The store is not configured durably, or its schema is missing or from another version. */
  Misconfigured = 'event_store_misconfigured',
  /** The store was closed. */
  Closed = 'event_store_closed',
}

/** Base class of every error the event store raises. */
export class EventStoreError extends Error {
  override readonly name: string = 'EventStoreError';

  constructor(
    readonly code: EventStoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The expected revision of an append did not match the stream. */
export class WrongExpectedRevisionError extends EventStoreError {
  override readonly name = 'WrongExpectedRevisionError';

  constructor(
    readonly streamId: string,
    readonly expected: string | number,
    /** The stream's current revision, or `null` when it does not exist. */
    readonly actual: number | null,
  ) {
    super(
      EventStoreErrorCode.WrongExpectedRevision,
      `stream ${streamId}: expected revision ${String(expected)}, actual ${actual === null ? 'no stream' : actual}`,
    );
  }
}

export function isEventStoreError(error: unknown): error is EventStoreError {
  return error instanceof EventStoreError;
}

export function isWrongExpectedRevisionError(error: unknown): error is WrongExpectedRevisionError {
  return error instanceof WrongExpectedRevisionError;
}
