import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import {
  eventTypeFilter,
  jsonEvent,
  KurrentDBClient,
  NO_STREAM as KDB_NO_STREAM,
  ANY as KDB_ANY,
  streamNameFilter,
  type AppendResult as ClientAppendResult,
  type EventData,
  type Filter,
  type JSONType,
} from '@kurrent/kurrentdb-client';
import { genesisHash, type ChainRecord } from '../chain.js';
import {
  EventStoreError,
  EventStoreErrorCode,
  WrongExpectedRevisionError,
} from '../event-store.errors.js';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  EventStoreInfo,
  EventToAppend,
  LogFilter,
  ReadAllOptions,
  ReadChainOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoreHead,
  SubscribeOptions,
  Subscription,
} from '../event-store.js';
import {
  checkName,
  describeExpected,
  prepareAppend,
  type PreparedAppend,
  type PreparedEvent,
} from '../internal/prepare.js';
import { runSubscription, type LogPage } from '../internal/subscription-runner.js';
import { ChainIndex, ChainSealer } from './kurrentdb-chain.js';
import { KurrentDbLog, type KurrentDbClient } from './kurrentdb-log.js';
import {
  checkStreamId,
  clientErrorType,
  describeConnection,
  ID_CLAIMED_TYPE,
  redactSecrets,
  STORE_CREATED_TYPE,
  SUBSCRIPTION_CHECKPOINTED_TYPE,
  toChainRecord,
  toRecordedEvent,
  toStreamState,
  wrapMetadata,
  type ChainEntry,
  type StoredEvent,
} from './kurrentdb-mapping.js';

/** Options of {@link createKurrentDbEventStore}. */
export interface KurrentDbEventStoreOptions {
  /**
   * `kurrentdb://…` connection string (see the client's docs: hosts, `tls`, `nodePreference`,
   * credentials). It is a secret: errors and `info.location` never show its credentials. The
   * user must be allowed to read `$all` (an admin, by default).
   */
  readonly connectionString: string;
  /**
   * Prefix of every KurrentDB stream this store writes: logical stream `S` is `${prefix}S`, and
   * the store's own streams are `${prefix}sscontrol-…` (so logical ids starting with `sscontrol-`
   * or `$` are refused). Stores with different prefixes share a server without seeing each other
   * (tests use a random one); a store holds the events appended under its prefix after its
   * `sscontrol-store` stream was created, so with the default `''` it also spans every prefixed
   * store created later on the same server. Default `''`.
   */
  readonly prefix?: string;
  /**
   * Accepted for settings compatibility; no effect: KurrentDB group-commits on the server, so each
   * append is sent as it comes.
   */
  readonly maxBatchEvents?: number;
  /** Accepted for settings compatibility; no effect (see {@link maxBatchEvents}). */
  readonly batchWindowMs?: number;
  /** Refuse appends (`event_store_overloaded`) past this many events in flight. Default 100000. */
  readonly maxPendingEvents?: number;
}

/** What "durable" means for an acknowledged append on KurrentDB. */
export const KURRENTDB_DURABILITY =
  'An append resolves after the KurrentDB leader acknowledged it. The leader does so only once the events are flushed to its disk (unless the server runs with UnsafeDisableFlushToDisk, which a client cannot detect) and replicated to a majority of the cluster (a single node is its own majority), so an acknowledged append survives a process crash, a power loss and, on a cluster, the loss of a minority of nodes. Chain hashes are added afterwards by a background sealer: head() and readChain() cover an event once it is sealed, normally well under a second later, and reads wait for it.';

/** Longest wait of a read for the sealer to cover the events it returns. */
const SEAL_WAIT_MS = 30_000;
/** Events per stream read. */
const STREAM_PAGE = 1000;
/** Store events scanned per page when rebuilding chain records. */
const CHAIN_SCAN_PAGE = 1000;
/** Chain records fetched per read by `readChain`. */
const CHAIN_RECORDS_PER_READ = 16;

function closedError(): EventStoreError {
  return new EventStoreError(EventStoreErrorCode.Closed, 'the event store is closed');
}

function toEventData(e: PreparedEvent): EventData {
  return jsonEvent({
    id: e.id,
    type: e.type,
    // Canonical JSON, parsed: the client stringifies it again, and a read re-canonicalises it.
    data: JSON.parse(e.dataJson) as JSONType,
    metadata: wrapMetadata(e) as unknown as Record<string, unknown>,
  });
}

function matches(e: StoredEvent, filter: LogFilter): boolean {
  if (filter.types && filter.types.length > 0 && !filter.types.includes(e.type)) return false;
  if (filter.streamPrefixes && filter.streamPrefixes.length > 0) {
    if (!filter.streamPrefixes.some((p) => e.streamId.startsWith(p))) return false;
  }
  const t = e.recordedAt.getTime();
  if (filter.since && t < filter.since.getTime()) return false;
  if (filter.until && t >= filter.until.getTime()) return false;
  return true;
}

/**
 * The KurrentDB event store. Events live in KurrentDB streams as JSON; the hash chain is kept by
 * a {@link ChainSealer} in a stream of its own. Global positions are `$all` commit positions:
 * unique and increasing along the log, but not gapless.
 */
class KurrentDbEventStore implements EventStore {
  readonly info: EventStoreInfo;
  private readonly notifier = new EventEmitter();
  private readonly genesis: string;
  private readonly index: ChainIndex;
  private readonly sealer: ChainSealer;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly maxPendingEvents: number;
  private readonly capped = new Set<string>();
  private pendingEvents = 0;
  private closed = false;
  private headCache: { position: number; recordedAt: Date | null } | null = null;

  constructor(
    private readonly log: KurrentDbLog,
    storeId: string,
    private readonly origin: number,
    options: KurrentDbEventStoreOptions,
  ) {
    this.notifier.setMaxListeners(0);
    this.genesis = genesisHash(storeId);
    this.maxPendingEvents = options.maxPendingEvents ?? 100_000;
    const { prefix } = log;
    this.info = {
      backend: 'kurrentdb',
      storeId,
      location: `${describeConnection(options.connectionString)} prefix ${JSON.stringify(prefix)}`,
      durability: KURRENTDB_DURABILITY,
      gaplessPositions: false,
    };
    this.index = new ChainIndex(log);
    this.sealer = new ChainSealer(log, this.index, this.genesis, origin, this.notifier);
    this.sealer.start();
  }

  append(
    streamId: string,
    events: readonly EventToAppend[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    let prepared: PreparedAppend;
    try {
      checkStreamId(streamId);
      prepared = prepareAppend(streamId, events, options?.expectedRevision);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    if (this.closed) return Promise.reject(closedError());
    const weight = prepared.events.length;
    if (this.pendingEvents > 0 && this.pendingEvents + weight > this.maxPendingEvents) {
      return Promise.reject(
        new EventStoreError(
          EventStoreErrorCode.Overloaded,
          `${this.pendingEvents} events are already waiting for KurrentDB`,
        ),
      );
    }
    // Only ids the caller chose can collide; generated UUIDv7s are unique.
    const supplied = prepared.events.filter((_, i) => events[i]?.id !== undefined).map((e) => e.id);
    this.pendingEvents += weight;
    const done: Promise<AppendResult> = this.appendNow(prepared, supplied).finally(() => {
      this.pendingEvents -= weight;
      this.inFlight.delete(done);
    });
    this.inFlight.add(done);
    return done;
  }

  private async appendNow(req: PreparedAppend, supplied: readonly string[]): Promise<AppendResult> {
    const { streamId, expected } = req;
    const retried = supplied.length > 0 ? await this.claimIds(streamId, supplied) : false;
    // A retried append is told apart by its events being in the log before it was sent.
    const endBefore = retried ? await this.log.endPosition() : null;
    let result: ClientAppendResult;
    try {
      result = await this.log.append(
        this.log.stream(streamId),
        req.events.map(toEventData),
        toStreamState(expected),
      );
    } catch (error) {
      throw this.log.fail(error, `append to stream ${streamId}`, { streamId, expected });
    }
    if (!result.success) {
      // Only with throwOnAppendFailure=false, whose reported revision is unreliable: read it.
      throw new WrongExpectedRevisionError(
        streamId,
        describeExpected(expected),
        await this.streamRevision(streamId),
      );
    }
    const last = Number(result.nextExpectedRevision);
    const first = last - req.events.length + 1;
    const [firstPosition, lastPosition] = await this.positionsOf(req, first, last);
    this.notifier.emit('appended');
    this.sealer.nudge();
    return {
      streamId,
      firstRevision: first,
      nextExpectedRevision: last,
      firstPosition,
      lastPosition,
      idempotent: endBefore !== null && firstPosition <= endBefore,
    };
  }

  /**
   * KurrentDB deduplicates event ids only within a stream, while the store promises that an id is
   * recorded once in the whole store. Each caller-chosen id is therefore claimed first with a
   * stream of its own appended with NO_STREAM: the first stream to claim an id owns it for good,
   * even if the append that claimed it then failed. True when every id was already claimed for
   * this stream (a retry).
   */
  private async claimIds(streamId: string, ids: readonly string[]): Promise<boolean> {
    const claims = await Promise.all(ids.map((id) => this.claimId(streamId, id)));
    const taken = claims.find((c) => c.owner !== streamId);
    if (taken) {
      throw new EventStoreError(
        EventStoreErrorCode.DuplicateEvent,
        `event ${taken.id} is already recorded in stream ${taken.owner}`,
      );
    }
    return claims.every((c) => c.existing);
  }

  private async claimId(
    streamId: string,
    id: string,
  ): Promise<{ id: string; owner: string; existing: boolean }> {
    const stream = this.log.streams.claim(id);
    try {
      const r = await this.log.append(
        stream,
        [jsonEvent({ type: ID_CLAIMED_TYPE, data: { streamId } })],
        KDB_NO_STREAM,
      );
      if (r.success) return { id, owner: streamId, existing: false };
    } catch (error) {
      if (clientErrorType(error) !== 'wrong-expected-version')
        throw this.log.fail(error, `claim event id ${id}`);
    }
    const [claim] = (await this.log.readStream(stream, 0, 1)) ?? [];
    const owner = (claim?.data as { streamId?: unknown } | undefined)?.streamId;
    if (typeof owner !== 'string') {
      throw new EventStoreError(
        EventStoreErrorCode.Misconfigured,
        `the claim of event id ${id} is malformed`,
      );
    }
    return { id, owner, existing: true };
  }

  /** Positions of an acknowledged append's first and last event, read back from its stream. */
  private async positionsOf(
    req: PreparedAppend,
    first: number,
    last: number,
  ): Promise<[number, number]> {
    const stream = this.log.stream(req.streamId);
    let failure: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const [a, b] = await Promise.all([
          this.log.readStream(stream, first, 1),
          last === first ? null : this.log.readStream(stream, last, 1),
        ]);
        const e1 = a?.[0];
        const e2 = last === first ? e1 : b?.[0];
        if (
          !e1?.position ||
          !e2?.position ||
          Number(e1.revision) !== first ||
          Number(e2.revision) !== last
        ) {
          break;
        }
        if (e1.id !== req.events[0]!.id || e2.id !== req.events[req.events.length - 1]!.id) {
          throw new EventStoreError(
            EventStoreErrorCode.DuplicateEvent,
            `stream ${req.streamId} holds other events where KurrentDB reported this append`,
          );
        }
        return [Number(e1.position.commit), Number(e2.position.commit)];
      } catch (error) {
        if (error instanceof EventStoreError && error.code !== EventStoreErrorCode.Unavailable)
          throw error;
        failure = error;
      }
    }
    throw new EventStoreError(
      EventStoreErrorCode.Unavailable,
      `KurrentDB acknowledged the append to ${req.streamId}; its positions could not be read` +
        ` (a retry with the same event ids and expected revision is idempotent)` +
        (failure instanceof Error ? `: ${failure.message}` : ''),
    );
  }

  async streamRevision(streamId: string): Promise<number | null> {
    checkStreamId(streamId);
    if (this.closed) throw closedError();
    const last = await this.log.lastEvent(this.log.stream(streamId));
    return last ? Number(last.revision) : null;
  }

  /** Public events with their chain hashes; waits for the sealer to cover them. */
  private async withHashes(events: readonly StoredEvent[]): Promise<RecordedEvent[]> {
    const last = events[events.length - 1];
    if (!last) return [];
    await this.sealer.waitFor(last.position, SEAL_WAIT_MS);
    const hashes = await this.index.hashes(events.map((e) => e.position));
    return events.map((e) => toRecordedEvent(e, hashes.get(e.position) ?? ''));
  }

  async *readStream(
    streamId: string,
    options: ReadStreamOptions = {},
  ): AsyncIterable<RecordedEvent> {
    checkStreamId(streamId);
    if (this.closed) throw closedError();
    let from = options.fromRevision ?? 0;
    let remaining = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    while (remaining > 0) {
      const limit = Math.min(STREAM_PAGE, remaining);
      const page = await this.log.storeEvents(streamId, from, limit);
      if (!page) return;
      const events = (await this.withHashes(page.events)).slice(0, remaining);
      for (const e of events) yield e;
      remaining -= events.length;
      if (page.read < limit) return;
      from = page.next;
    }
  }

  /** The server-side filter that narrows `$all` most for a log filter; the rest is checked here. */
  private serverFilter(filter: LogFilter): Filter {
    const prefixes = filter.streamPrefixes ?? [];
    if (prefixes.length > 0 && !prefixes.includes('')) {
      return streamNameFilter({ prefixes: prefixes.map((p) => this.log.stream(p)) });
    }
    if (filter.types && filter.types.length > 0)
      return eventTypeFilter({ prefixes: [...filter.types] });
    return this.log.baseFilter;
  }

  /**
   * One page of the filtered log after `after`. When the read reaches the end of the log, it has
   * also scanned past every event the sealer had covered before it started: those were visible
   * to the read, so none that matched can be missing. That position is a store event's, which is
   * what subscriptions persist and resume after (never one of the store's own streams' events).
   */
  private async logPage(
    after: number,
    to: number,
    filter: LogFilter,
    limit: number,
  ): Promise<LogPage> {
    if (this.closed) throw closedError();
    const sealedBefore = this.sealer.head.position;
    const from = Math.max(after, this.origin);
    const page = await this.log.scan(
      from,
      this.serverFilter(filter),
      (e) => matches(e, filter),
      limit,
      to,
    );
    const events = await this.withHashes(page.events);
    const lastRead = events[events.length - 1]?.position ?? after;
    const scannedTo = Math.max(
      page.end ? Math.min(to, Math.max(lastRead, sealedBefore)) : lastRead,
      after,
    );
    // Positions are not gapless here: the end of the scan is where the log's head was.
    const end = page.end ? scannedTo : Number.MAX_SAFE_INTEGER;
    return { events, scannedTo, head: end, end };
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let after = options.after ?? 0;
    const to = options.to ?? Number.MAX_SAFE_INTEGER;
    let remaining = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const batch = options.batchSize ?? 1000;
    while (remaining > 0) {
      const limit = Math.min(batch, remaining);
      const page = await this.logPage(after, to, options, limit);
      for (const e of page.events) yield e;
      remaining -= page.events.length;
      if (page.events.length < limit || page.scannedTo >= to) return;
      after = page.scannedTo;
    }
  }

  subscribe(options: SubscribeOptions): Subscription {
    return runSubscription(
      {
        readPage: (after, filter, limit) =>
          this.logPage(after, Number.MAX_SAFE_INTEGER, filter, limit),
        headPosition: async () => {
          await this.sealer.sync(SEAL_WAIT_MS);
          return this.sealer.head.position;
        },
        loadPosition: (name) => this.subscriptionPosition(name),
        savePosition: (name, position) => this.savePosition(name, position),
        notifier: this.notifier,
      },
      options,
    );
  }

  private async savePosition(name: string, position: number): Promise<void> {
    const stream = this.log.streams.subscription(name);
    try {
      if (!this.capped.has(stream)) {
        // Only the last position matters; the server discards older ones.
        await this.log.client.setStreamMetadata(stream, { maxCount: 1 });
        this.capped.add(stream);
      }
      await this.log.append(
        stream,
        [jsonEvent({ type: SUBSCRIPTION_CHECKPOINTED_TYPE, data: { position } })],
        KDB_ANY,
      );
    } catch (error) {
      throw this.log.fail(error, `save the position of subscription ${name}`);
    }
  }

  async subscriptionPosition(name: string): Promise<number | null> {
    checkName('subscription name', name);
    if (this.closed) throw closedError();
    const last = await this.log.lastEvent(this.log.streams.subscription(name));
    const position = (last?.data as { position?: unknown } | undefined)?.position;
    return typeof position === 'number' ? position : null;
  }

  async head(): Promise<StoreHead> {
    if (this.closed) throw closedError();
    const tail = await this.index.tail();
    const last = tail?.entries[tail.entries.length - 1];
    if (!last) return { position: 0, hash: this.genesis, recordedAt: null };
    const [position, streamId, revision, , , hash] = last;
    if (this.headCache?.position !== position) {
      const [event] = (await this.log.readStream(this.log.stream(streamId), revision, 1)) ?? [];
      this.headCache = {
        position,
        recordedAt: event && Number(event.revision) === revision ? event.created : null,
      };
    }
    return { position, hash, recordedAt: this.headCache.recordedAt };
  }

  async *readChain(options: ReadChainOptions = {}): AsyncIterable<ChainRecord[]> {
    if (this.closed) throw closedError();
    const after = options.after ?? 0;
    const to = options.to ?? Number.MAX_SAFE_INTEGER;
    const batchSize = options.batchSize ?? 5000;
    const tail = await this.index.tail();
    if (!tail) return;
    const start = await this.index.firstRevisionAfter(after, tail);
    if (start === null) return;
    let pending: ChainEntry[] = [];
    let scannedTo = after;
    let revision = start;
    for (;;) {
      const records = await this.index.records(revision, CHAIN_RECORDS_PER_READ);
      for (const record of records) {
        for (const entry of record.entries) {
          if (entry[0] <= after) continue;
          if (entry[0] > to) {
            if (pending.length > 0) yield await this.chainPage(scannedTo, pending);
            return;
          }
          pending.push(entry);
          if (pending.length >= batchSize) {
            yield await this.chainPage(scannedTo, pending);
            scannedTo = entry[0];
            pending = [];
          }
        }
      }
      const last = records[records.length - 1];
      if (!last || records.length < CHAIN_RECORDS_PER_READ) break;
      revision = last.revision + 1;
    }
    if (pending.length > 0) yield await this.chainPage(scannedTo, pending);
  }

  /**
   * Chain records for sealed entries: the stored events (read from `$all`, so a deleted one is
   * missing and a changed one no longer matches its hash) with the hashes the sealer committed.
   * A store event in the range that the chain does not list is returned without hashes, which the
   * verifier reports as inserted.
   */
  private async chainPage(after: number, entries: readonly ChainEntry[]): Promise<ChainRecord[]> {
    const upTo = entries[entries.length - 1]![0];
    const stored = new Map<number, StoredEvent>();
    let cursor = Math.max(after, this.origin);
    for (;;) {
      const page = await this.log.scan(
        cursor,
        this.log.baseFilter,
        () => true,
        CHAIN_SCAN_PAGE,
        upTo,
      );
      for (const e of page.events) stored.set(e.position, e);
      const last = page.events[page.events.length - 1];
      if (page.end || !last) break;
      cursor = last.position;
    }
    const listed = new Set(entries.map((e) => e[0]));
    const records: ChainRecord[] = [];
    for (const e of stored.values()) {
      if (!listed.has(e.position) && e.position > after) records.push(toChainRecord(e, '', ''));
    }
    for (const [position, , , , prevHash, hash] of entries) {
      const e = stored.get(position);
      if (e) records.push(toChainRecord(e, prevHash, hash));
    }
    return records.sort((a, b) => a.position - b.position);
  }

  async hashesAt(positions: readonly number[]): Promise<Map<number, string>> {
    if (this.closed) throw closedError();
    const sorted = [...new Set(positions.filter((p) => p > 0))].sort((a, b) => a - b);
    const out = await this.index.hashes(sorted);
    if (positions.includes(0)) out.set(0, this.genesis);
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.inFlight]);
    await this.sealer.stop();
    await this.log.client.dispose();
  }
}

/** The store id, created with the store stream on first open. */
async function openStoreStream(log: KurrentDbLog): Promise<{ storeId: string; origin: number }> {
  let [created] = (await log.readStream(log.streams.store, 0, 1)) ?? [];
  if (!created) {
    try {
      await log.append(
        log.streams.store,
        [jsonEvent({ type: STORE_CREATED_TYPE, data: { storeId: randomUUID() } })],
        KDB_NO_STREAM,
      );
    } catch (error) {
      // Another process created it first: use theirs.
      if (clientErrorType(error) !== 'wrong-expected-version')
        throw log.fail(error, 'create the store');
    }
    [created] = (await log.readStream(log.streams.store, 0, 1)) ?? [];
  }
  const storeId = (created?.data as { storeId?: unknown } | undefined)?.storeId;
  if (
    created?.type !== STORE_CREATED_TYPE ||
    typeof storeId !== 'string' ||
    storeId.length === 0 ||
    !created.position
  ) {
    throw new EventStoreError(
      EventStoreErrorCode.Misconfigured,
      `${log.streams.store} does not start with store.created: something else wrote it`,
    );
  }
  return { storeId, origin: Number(created.position.commit) };
}

function checkPrefix(prefix: string): void {
  // eslint-disable-next-line no-control-regex
  if (prefix.startsWith('$') || /[\u0000-\u001f\u007f]/.test(prefix) || prefix.length > 100) {
    throw new EventStoreError(
      EventStoreErrorCode.Misconfigured,
      'the KurrentDB prefix must have at most 100 characters, no control characters, no leading $',
    );
  }
}

/**
 * Opens the store over an existing client (which it then owns and disposes on close). Used by
 * {@link createKurrentDbEventStore}, and by tests that substitute the client.
 */
export async function openKurrentDbEventStore(
  client: KurrentDbClient,
  options: KurrentDbEventStoreOptions,
): Promise<EventStore> {
  const prefix = options.prefix ?? '';
  checkPrefix(prefix);
  const log = new KurrentDbLog(client, prefix, options.connectionString);
  const { storeId, origin } = await openStoreStream(log);
  return new KurrentDbEventStore(log, storeId, origin, options);
}

/**
 * Opens the KurrentDB event store, creating its store stream on first use. Fails with
 * `event_store_unavailable` when the server cannot be reached, and `event_store_misconfigured`
 * for a malformed connection string or prefix.
 */
export async function createKurrentDbEventStore(
  options: KurrentDbEventStoreOptions,
): Promise<EventStore> {
  const location = describeConnection(options.connectionString);
  checkPrefix(options.prefix ?? '');
  let client: KurrentDBClient;
  try {
    client = KurrentDBClient.connectionString(options.connectionString);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new EventStoreError(
      EventStoreErrorCode.Misconfigured,
      `invalid KurrentDB connection string: ${redactSecrets(message, options.connectionString)}`,
    );
  }
  try {
    return await openKurrentDbEventStore(client, options);
  } catch (error) {
    await client.dispose().catch(() => undefined);
    if (error instanceof EventStoreError && error.code !== EventStoreErrorCode.Unavailable)
      throw error;
    const message = redactSecrets(
      error instanceof Error ? error.message : String(error),
      options.connectionString,
    );
    throw new EventStoreError(
      EventStoreErrorCode.Unavailable,
      `cannot open the KurrentDB store at ${location}: ${message}`,
    );
  }
}
