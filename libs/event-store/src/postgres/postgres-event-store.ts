import { EventEmitter } from 'node:events';
import pg from 'pg';
import type { ChainRecord } from '../chain.js';
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
import { GroupCommitter, type BatchOutcome } from '../internal/group-committer.js';
import {
  checkName,
  describeExpected,
  prepareAppend,
  type PreparedAppend,
} from '../internal/prepare.js';
import { runSubscription, type LogPage } from '../internal/subscription-runner.js';
import {
  EVENT_COLUMNS,
  rowToChainRecord,
  rowToEvent,
  type EventRow,
} from '../internal/event-rows.js';
import { PG_TYPES } from './pg-types.js';
import { windowedPages } from './postgres-pages.js';
import { checkPostgresSchema } from './postgres-migrations.js';

/** Options of {@link createPostgresEventStore}. */
export interface PostgresEventStoreOptions {
  readonly connectionString: string;
  /** Schema migrated by `sscontrol migrate`. Default `sscontrol`. */
  readonly schema?: string;
  /** Connections in the pool. Default 10. */
  readonly poolMax?: number;
  /** Group commit: most events per transaction. Default 1000. */
  readonly maxBatchEvents?: number;
  /** Group commit: wait for more appends this long. Default 0. */
  readonly batchWindowMs?: number;
  /** Refuse appends while this many events wait. Default 100000. */
  readonly maxPendingEvents?: number;
  /** Subscribe to commit notifications (LISTEN). Default true. */
  readonly listen?: boolean;
  /** Longest a statement (an append waiting for the head lock included) may run. Default 15 s. */
  readonly statementTimeoutMs?: number;
}

/** Joins the text columns of a batch; no stream id, type, id, JSON or digest can contain it. */
const RS = '\u001e';

/** Positions a filtered page reads at most (see logPage). */
const PAGE_WINDOW = 10_000;

function redactUrl(connectionString: string): string {
  try {
    const u = new URL(connectionString);
    u.password = '';
    u.username = u.username ? u.username : '';
    return `${u.protocol}//${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgres';
  }
}

function unavailable(error: unknown): EventStoreError {
  if (error instanceof EventStoreError) return error;
  const e = error as { code?: string; message?: string };
  return new EventStoreError(
    EventStoreErrorCode.Unavailable,
    `PostgreSQL could not commit: ${e.code ? `${e.code}: ` : ''}${e.message ?? String(error)}`,
    { cause: error },
  );
}

/** Marks a request the batch function refused; settled by {@link PostgresEventStore.rejectOrReplay}. */
const REFUSED = new Error('refused');

class PostgresEventStore implements EventStore {
  readonly info: EventStoreInfo;
  private readonly notifier = new EventEmitter();
  private readonly committer: GroupCommitter<PreparedAppend, AppendResult>;
  private readonly q: string;
  private listener: pg.Client | null = null;
  private closed = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly schema: string,
    storeId: string,
    synchronousCommit: string,
    private readonly options: PostgresEventStoreOptions,
  ) {
    this.notifier.setMaxListeners(0);
    this.q = `"${schema}"`;
    this.info = {
      backend: 'postgres',
      gaplessPositions: true,
      storeId,
      location: `${redactUrl(options.connectionString)} schema ${schema}`,
      durability: `An append resolves after its transaction committed with synchronous_commit=${synchronousCommit} and fsync=on (both checked at start; a server with either off is refused): the commit record is flushed to the write-ahead log on disk${synchronousCommit === 'remote_apply' || synchronousCommit === 'on' ? ', and to synchronous standbys when synchronous_standby_names is set,' : ''} before the append resolves.`,
    };
    this.committer = new GroupCommitter((batch) => this.commit(batch), {
      maxBatchWeight: options.maxBatchEvents ?? 1000,
      windowMs: options.batchWindowMs ?? 0,
      maxPendingWeight: options.maxPendingEvents ?? 100_000,
      // The next batch waits at the server for the head lock while the current one commits.
      maxInFlight: 2,
      keyOf: (request) => request.streamId,
    });
  }

  async startListening(): Promise<void> {
    if (this.closed || this.options.listen === false) return;
    const client = new pg.Client({ connectionString: this.options.connectionString });
    client.on('notification', () => this.notifier.emit('appended'));
    client.on('error', () => {
      // Subscriptions fall back to polling; reconnect in the background.
      this.listener = null;
      void client.end().catch(() => undefined);
      setTimeout(() => void this.startListening().catch(() => undefined), 1000).unref();
    });
    await client.connect();
    await client.query(`LISTEN "${this.schema}.events"`);
    this.listener = client;
  }

  private async commit(batch: PreparedAppend[]): Promise<BatchOutcome<AppendResult>[]> {
    const result = await this.appendBatch(batch);
    if (result === null) {
      // An event id is already recorded somewhere in the batch: commit request by request.
      const outcomes: BatchOutcome<AppendResult>[] = [];
      for (const req of batch) {
        const single = await this.appendBatch([req]);
        outcomes.push(
          single === null ? await this.rejectOrReplay(req, null) : this.outcome(req, single, 0),
        );
      }
      return outcomes;
    }
    const outcomes: BatchOutcome<AppendResult>[] = [];
    for (let i = 0; i < batch.length; i++) {
      const o = this.outcome(batch[i]!, result, i);
      outcomes.push(
        o.ok || o.error !== REFUSED
          ? o
          : await this.rejectOrReplay(batch[i]!, result[i * 3 + 2] ?? null),
      );
    }
    return outcomes;
  }

  private async appendBatch(batch: readonly PreparedAppend[]): Promise<(number | null)[] | null> {
    const events = batch.flatMap((r) => r.events);
    try {
      const res = await this.pool.query<{ r: (string | null)[] | null }>(
        `SELECT ${this.q}.append_batch($1, $2, $3, $4, $5, $6, $7, $8, $9) AS r`,
        [
          batch.map((r) => r.streamId).join(RS),
          batch.map((r) => r.expected),
          batch.map((r) => r.events.length),
          events.map((e) => e.id).join(RS),
          events.map((e) => e.type).join(RS),
          events.map((e) => e.schemaVersion),
          events.map((e) => e.metadataJson).join(RS),
          events.map((e) => e.dataJson).join(RS),
          events.map((e) => e.dataDigest).join(RS),
        ],
      );
      this.notifier.emit('appended');
      const r = res.rows[0]!.r;
      return r === null ? null : r.map((v) => (v === null ? null : Number(v)));
    } catch (error) {
      throw unavailable(error);
    }
  }

  private outcome(
    req: PreparedAppend,
    result: (number | null)[],
    i: number,
  ): BatchOutcome<AppendResult> {
    const firstPosition = result[i * 3]!;
    if (firstPosition < 0) return { ok: false, error: REFUSED };
    return {
      ok: true,
      value: {
        streamId: req.streamId,
        firstRevision: result[i * 3 + 1]!,
        nextExpectedRevision: result[i * 3 + 2]!,
        firstPosition,
        lastPosition: firstPosition + req.events.length - 1,
        idempotent: false,
      },
    };
  }

  /** A refused request succeeds only as an exact replay of events already recorded. */
  private async rejectOrReplay(
    req: PreparedAppend,
    refusedAt: number | null,
  ): Promise<BatchOutcome<AppendResult>> {
    const current =
      refusedAt === null
        ? await this.streamRevision(req.streamId)
        : refusedAt < 0
          ? null
          : refusedAt;
    const ids = req.events.map((e) => e.id);
    const res = await this.pool.query<{
      event_id: string;
      stream_id: string;
      revision: number;
      position: number;
    }>(
      `SELECT event_id, stream_id, revision, position FROM ${this.q}.events WHERE event_id = ANY($1::uuid[])`,
      [ids],
    );
    const byId = new Map(res.rows.map((r) => [r.event_id, r]));
    const rows = ids.map((id) => byId.get(id));
    const first = rows[0];
    if (
      first &&
      rows.every(
        (r, i) =>
          r &&
          r.stream_id === req.streamId &&
          r.revision === first.revision + i &&
          r.position === first.position + i,
      )
    ) {
      return {
        ok: true,
        value: {
          streamId: req.streamId,
          firstRevision: first.revision,
          nextExpectedRevision: first.revision + ids.length - 1,
          firstPosition: first.position,
          lastPosition: first.position + ids.length - 1,
          idempotent: true,
        },
      };
    }
    const dup = rows.find((r) => r !== undefined);
    if (dup) {
      return {
        ok: false,
        error: new EventStoreError(
          EventStoreErrorCode.DuplicateEvent,
          `event ${dup.event_id} is already recorded in stream ${dup.stream_id} at revision ${dup.revision}`,
        ),
      };
    }
    return {
      ok: false,
      error: new WrongExpectedRevisionError(req.streamId, describeExpected(req.expected), current),
    };
  }

  append(
    streamId: string,
    events: readonly EventToAppend[],
    options?: AppendOptions,
  ): Promise<AppendResult> {
    try {
      const prepared = prepareAppend(streamId, events, options?.expectedRevision);
      return this.committer.submit(prepared, prepared.events.length);
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  private async rows(sql: string, params: unknown[]): Promise<unknown[][]> {
    try {
      const res = await this.pool.query({ text: sql, values: params, rowMode: 'array' });
      return res.rows as unknown[][];
    } catch (error) {
      throw unavailable(error);
    }
  }

  async streamRevision(streamId: string): Promise<number | null> {
    checkName('stream id', streamId);
    const rows = await this.rows(
      `SELECT max(revision) FROM ${this.q}.events WHERE stream_id = $1`,
      [streamId],
    );
    return (rows[0]?.[0] as number | null) ?? null;
  }

  async *readStream(
    streamId: string,
    options: ReadStreamOptions = {},
  ): AsyncIterable<RecordedEvent> {
    checkName('stream id', streamId);
    let from = options.fromRevision ?? 0;
    let remaining = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    while (remaining > 0) {
      const limit = Math.min(1000, remaining);
      const rows = (await this.rows(
        `SELECT ${EVENT_COLUMNS} FROM ${this.q}.events WHERE stream_id = $1 AND revision >= $2 ORDER BY revision LIMIT $3`,
        [streamId, from, limit],
      )) as EventRow[];
      for (const r of rows) yield rowToEvent(r);
      if (rows.length < limit) return;
      remaining -= rows.length;
      from = rows[rows.length - 1]![2] + 1;
    }
  }

  private async logPage(
    after: number,
    to: number,
    filter: LogFilter,
    limit: number,
  ): Promise<LogPage> {
    const params: unknown[] = [after, Math.min(to, Number.MAX_SAFE_INTEGER), limit];
    let where = '';
    if (filter.types && filter.types.length > 0) {
      params.push(filter.types);
      where += ` AND type = ANY($${params.length}::text[])`;
    }
    if (filter.streamPrefixes && filter.streamPrefixes.length > 0) {
      const parts = filter.streamPrefixes.map((p) => {
        params.push(p, `${p}\u{10ffff}`);
        return `(stream_id >= $${params.length - 1} AND stream_id < $${params.length})`;
      });
      where += ` AND (${parts.join(' OR ')})`;
    }
    if (filter.since) {
      params.push(filter.since.getTime());
      where += ` AND recorded_at >= $${params.length}`;
    }
    if (filter.until) {
      params.push(filter.until.getTime());
      where += ` AND recorded_at < $${params.length}`;
    }
    // One statement, one snapshot: the head and the page agree, and the snapshot holds a
    // gapless prefix of the log (positions are assigned in commit order). The page reads a
    // window of positions, so its cost is bounded whatever plan the planner picks (a freshly
    // loaded table has no statistics, and a range estimate of 0.5% can pick a sort of millions).
    const window = Math.max(limit, PAGE_WINDOW);
    params.push(window);
    const rows = await this.rows(
      `WITH h AS (SELECT position FROM ${this.q}.head WHERE id = 1)
       SELECT h.position, e.* FROM h LEFT JOIN LATERAL (
         SELECT ${EVENT_COLUMNS} FROM ${this.q}.events
         WHERE position > $1 AND position <= least($2::bigint, h.position, $1::bigint + $${params.length}::bigint)${where}
         ORDER BY position LIMIT $3) e ON true`,
      params,
    );
    const head = rows[0]![0] as number;
    const events = rows.filter((r) => r[1] !== null).map((r) => rowToEvent(r.slice(1) as EventRow));
    const windowEnd = Math.min(to, head, after + window);
    const scannedTo = events.length < limit ? windowEnd : events[events.length - 1]!.position;
    return { events, scannedTo: Math.max(scannedTo, after), head, end: Math.min(to, head) };
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let after = options.after ?? 0;
    const to = options.to ?? Number.MAX_SAFE_INTEGER;
    let remaining = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const batch = options.batchSize ?? 1000;
    for (;;) {
      const limit = Math.min(batch, remaining);
      const page = await this.logPage(after, to, options, limit);
      for (const e of page.events) yield e;
      remaining -= page.events.length;
      // Done at the end of the range, or (defensively) when a page made no progress.
      if (
        remaining <= 0 ||
        page.scannedTo >= page.end ||
        (page.scannedTo <= after && page.events.length === 0)
      )
        return;
      after = page.scannedTo;
    }
  }

  subscribe(options: SubscribeOptions): Subscription {
    return runSubscription(
      {
        readPage: (after, filter, limit) =>
          this.logPage(after, Number.MAX_SAFE_INTEGER, filter, limit),
        headPosition: async () => (await this.head()).position,
        loadPosition: (name) => this.subscriptionPosition(name),
        savePosition: async (name, position) => {
          await this.rows(
            `INSERT INTO ${this.q}.subscriptions (name, position, updated_at) VALUES ($1, $2, now())
             ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
            [name, position],
          );
        },
        notifier: this.notifier,
      },
      options,
    );
  }

  async subscriptionPosition(name: string): Promise<number | null> {
    checkName('subscription name', name);
    const rows = await this.rows(`SELECT position FROM ${this.q}.subscriptions WHERE name = $1`, [
      name,
    ]);
    return (rows[0]?.[0] as number | undefined) ?? null;
  }

  async head(): Promise<StoreHead> {
    const rows = await this.rows(
      `SELECT position, hash, recorded_at FROM ${this.q}.head WHERE id = 1`,
      [],
    );
    const [position, hash, recordedAt] = rows[0] as [number, string, number];
    return { position, hash, recordedAt: position === 0 ? null : new Date(recordedAt) };
  }

  async *readChain(options: ReadChainOptions = {}): AsyncIterable<ChainRecord[]> {
    const to = Math.min(options.to ?? Number.MAX_SAFE_INTEGER, (await this.head()).position);
    for await (const rows of windowedPages(
      (sql, params) => this.rows(sql, params) as Promise<EventRow[]>,
      this.q,
      options.after ?? 0,
      to,
      options.batchSize ?? 5000,
    )) {
      yield rows.map(rowToChainRecord);
    }
  }

  async hashesAt(positions: readonly number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    if (positions.includes(0)) {
      const rows = await this.rows(
        `SELECT encode(sha256(convert_to('sscontrol-event-chain/v1' || E'\\n' || value, 'UTF8')), 'hex')
         FROM ${this.q}.store_meta WHERE key = 'store_id'`,
        [],
      );
      out.set(0, rows[0]![0] as string);
    }
    const rows = await this.rows(
      `SELECT position, hash FROM ${this.q}.events WHERE position = ANY($1::bigint[])`,
      [positions.filter((p) => p > 0)],
    );
    for (const [p, h] of rows as [number, string][]) out.set(p, h);
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.committer.close();
    this.closed = true;
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}

/**
 * Opens the PostgreSQL event store. Refuses a server that acknowledges commits before they are
 * durable, and a schema that `sscontrol migrate` has not brought to this release.
 */
export async function createPostgresEventStore(
  options: PostgresEventStoreOptions,
): Promise<EventStore> {
  const schema = options.schema ?? 'sscontrol';
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolMax ?? 10,
    types: PG_TYPES,
    connectionTimeoutMillis: 10_000,
    // A stalled server fails appends (fail closed: the caller's action does not happen)
    // instead of holding every caller forever.
    statement_timeout: options.statementTimeoutMs ?? 15_000,
    application_name: 'sscontrol',
  });
  pool.on('error', () => undefined);
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new EventStoreError(
      EventStoreErrorCode.Unavailable,
      `cannot connect to PostgreSQL at ${redactUrl(options.connectionString)}: ${(error as Error).message}`,
    );
  }
  try {
    const settings = await client.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings WHERE name IN ('fsync', 'synchronous_commit')`,
    );
    const s = new Map(settings.rows.map((r) => [r.name, r.setting]));
    if (s.get('fsync') !== 'on' || s.get('synchronous_commit') === 'off') {
      throw new EventStoreError(
        EventStoreErrorCode.Misconfigured,
        `refusing a PostgreSQL server that is not durable: fsync=${s.get('fsync')} synchronous_commit=${s.get('synchronous_commit')}`,
      );
    }
    await checkPostgresSchema(client, schema);
    const meta = await client.query<{ value: string }>(
      `SELECT value FROM "${schema}".store_meta WHERE key = 'store_id'`,
    );
    const store = new PostgresEventStore(
      pool,
      schema,
      meta.rows[0]!.value,
      s.get('synchronous_commit')!,
      options,
    );
    client.release();
    await store.startListening();
    return store;
  } catch (error) {
    client.release();
    await pool.end().catch(() => undefined);
    throw error;
  }
}
