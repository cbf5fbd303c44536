import type { ChainRecord } from './chain.js';

/** Append to a stream whatever its state. */
export const ANY = 'any' as const;
/** Append only if the stream has no events. */
export const NO_STREAM = 'no_stream' as const;
/** Append only if the stream has at least one event. */
export const STREAM_EXISTS = 'stream_exists' as const;

/**
 * What an append expects of its stream: {@link ANY}, {@link NO_STREAM}, {@link STREAM_EXISTS}, or
 * the exact revision (0-based) of the stream's last event.
 */
export type ExpectedRevision = typeof ANY | typeof NO_STREAM | typeof STREAM_EXISTS | number;

/** The backends sscontrol ships. */
export type EventStoreBackend = 'sqlite' | 'postgres' | 'kurrentdb';

/** An event to append. */
export interface EventToAppend<
  D = unknown,
  M extends Record<string, unknown> = Record<string, unknown>,
> {
  /** Lower-case UUID; a UUIDv7 is generated when omitted. Appending the same id again to the same stream is idempotent. */
  readonly id?: string;
  /** Non-empty, at most 200 characters, no control characters. */
  readonly type: string;
  /** Version of the payload schema. Default 1. */
  readonly schemaVersion?: number;
  /** JSON payload (stored as canonical JSON). */
  readonly data: D;
  /** JSON object; top-level keys starting with `$` are reserved for the store. */
  readonly metadata?: M;
}

/** An event as it was recorded. */
export interface RecordedEvent<
  D = unknown,
  M extends Record<string, unknown> = Record<string, unknown>,
> {
  /** Position in the global log: 1-based, gapless and in commit order on sqlite and postgres. */
  readonly position: number;
  readonly streamId: string;
  /** 0-based revision within the stream. */
  readonly revision: number;
  readonly id: string;
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: D;
  readonly metadata: M;
  /** When the store committed it; never decreases along the global log. */
  readonly recordedAt: Date;
  /** Chain hash of this event (see `chain.ts`). */
  readonly hash: string;
}

/** Outcome of an append. */
export interface AppendResult {
  readonly streamId: string;
  /** Revision of the first appended event. */
  readonly firstRevision: number;
  /** Revision of the last appended event: pass it as `expectedRevision` of the next append. */
  readonly nextExpectedRevision: number;
  readonly firstPosition: number;
  readonly lastPosition: number;
  /** True when every event id was already recorded at these revisions (a retried append). */
  readonly idempotent: boolean;
}

/** Options of {@link EventStore.append}. */
export interface AppendOptions {
  /** Default {@link ANY}. */
  readonly expectedRevision?: ExpectedRevision;
}

/** Options of {@link EventStore.readStream}. */
export interface ReadStreamOptions {
  /** First revision to read (inclusive). Default 0. */
  readonly fromRevision?: number;
  /** Most events to return. Default: all. */
  readonly maxCount?: number;
}

/** Filters of the global log; every given filter must match. */
export interface LogFilter {
  /** Exact event types. */
  readonly types?: readonly string[];
  /** Stream id prefixes, e.g. `session-`. */
  readonly streamPrefixes?: readonly string[];
  /** Recorded at or after. */
  readonly since?: Date;
  /** Recorded before. */
  readonly until?: Date;
}

/** Options of {@link EventStore.readAll}. */
export interface ReadAllOptions extends LogFilter {
  /** Read events after this position (exclusive). Default 0: from the start. */
  readonly after?: number;
  /** Last position to read (inclusive). Default: the head when the read reaches it. */
  readonly to?: number;
  /** Most events to return. Default: all. */
  readonly maxCount?: number;
  /** Events fetched per round trip. Default 1000. */
  readonly batchSize?: number;
}

/** What a subscription handler is told besides the event. */
export interface SubscriptionContext {
  /** True once the subscription has read everything that was recorded when it started. */
  readonly live: boolean;
}

/** Options of {@link EventStore.subscribe}. */
export interface SubscribeOptions extends Omit<LogFilter, 'until'> {
  /**
   * Name under which the store persists the subscription's position after each handled batch;
   * a restarted subscription with the same name resumes after the last persisted position.
   */
  readonly name?: string;
  /** Start after this position when nothing is persisted under `name`. Default 0. */
  readonly after?: number;
  /** Called once per event, in order; the next event waits for the returned promise. */
  readonly handler: (event: RecordedEvent, context: SubscriptionContext) => unknown;
  /** Events read per batch. Default 500. */
  readonly batchSize?: number;
  /** Longest wait for new events when no notification arrives (other processes). Default 250 ms. */
  readonly pollIntervalMs?: number;
}

/**
 * A running subscription. Delivery is at-least-once: after a crash, events handled since the
 * last persisted position are delivered again.
 */
export interface Subscription {
  /** Position of the last event handled (or scanned past by the filter). */
  readonly position: number;
  /** Resolves once every event recorded before the call has been handled. */
  caughtUp(): Promise<void>;
  /** Stops after the event being handled; persists the position. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves on stop, rejects when the handler or the store failed. */
  readonly done: Promise<void>;
}

/** The last event of the global log. */
export interface StoreHead {
  /** 0 when the store is empty. */
  readonly position: number;
  /** The last event's hash, or the genesis hash when the store is empty. */
  readonly hash: string;
  readonly recordedAt: Date | null;
}

/** Identity and guarantees of an opened store. */
export interface EventStoreInfo {
  readonly backend: EventStoreBackend;
  /** Random id created with the store; part of the chain's genesis hash. */
  readonly storeId: string;
  /** Where the data lives, without credentials. */
  readonly location: string;
  /** What "durable" means for an acknowledged append on this backend. */
  readonly durability: string;
  /**
   * True when global positions are 1..N without gaps (sqlite, postgres): a missing position is
   * then evidence of deletion. KurrentDB positions are increasing log offsets with gaps.
   */
  readonly gaplessPositions: boolean;
}

/** Options of {@link EventStore.readChain}. */
export interface ReadChainOptions {
  readonly after?: number;
  readonly to?: number;
  /** Records per page. Default 5000. */
  readonly batchSize?: number;
}

/**
 * sscontrol's event store: streams with optimistic concurrency, one ordered global log with a
 * hash chain over it, filtered reads and catch-up subscriptions. It knows nothing of sscontrol's
 * domain. Every method may throw an {@link EventStoreError}.
 */
export interface EventStore {
  readonly info: EventStoreInfo;

  /**
   * Appends events to a stream atomically. Resolves only once the commit is durable (see
   * {@link EventStoreInfo.durability}); concurrent appends share commits. Rejects with
   * `WrongExpectedRevisionError`, or with `event_store_unavailable` when nothing could be recorded.
   */
  append(
    streamId: string,
    events: readonly EventToAppend[],
    options?: AppendOptions,
  ): Promise<AppendResult>;

  /** The revision of a stream's last event, or null when the stream does not exist. */
  streamRevision(streamId: string): Promise<number | null>;

  /** Reads a stream in revision order. */
  readStream(streamId: string, options?: ReadStreamOptions): AsyncIterable<RecordedEvent>;

  /** Reads the global log in position order. */
  readAll(options?: ReadAllOptions): AsyncIterable<RecordedEvent>;

  /** Catch-up subscription: delivers recorded events, then new ones as they are committed. */
  subscribe(options: SubscribeOptions): Subscription;

  /** The persisted position of a named subscription, or null. */
  subscriptionPosition(name: string): Promise<number | null>;

  /** The last event of the global log. */
  head(): Promise<StoreHead>;

  /** Raw chained records in position order, in pages: what integrity verification reads. */
  readChain(options?: ReadChainOptions): AsyncIterable<ChainRecord[]>;

  /** Stored hashes at the given positions (absent positions are missing from the map). */
  hashesAt(positions: readonly number[]): Promise<Map<number, string>>;

  /** Flushes pending appends and releases connections. */
  close(): Promise<void>;
}
