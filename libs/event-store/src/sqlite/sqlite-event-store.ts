import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
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
  ReadAllOptions,
  ReadChainOptions,
  ReadStreamOptions,
  RecordedEvent,
  StoreHead,
  SubscribeOptions,
  Subscription,
} from '../event-store.js';
import { GroupCommitter, type BatchOutcome } from '../internal/group-committer.js';
import { checkName, prepareAppend, type PreparedAppend } from '../internal/prepare.js';
import { runSubscription } from '../internal/subscription-runner.js';
import { workerScript } from '../internal/worker-script.js';
import { SqliteReader } from './sqlite-reader.js';
import type { WriterOutcome } from './sqlite-writer.js';
import type { WorkerFailure, WriterRequest } from './sqlite-writer.worker.js';

/** Options of {@link createSqliteEventStore}. */
export interface SqliteEventStoreOptions {
  /** Database file; created with its directory when missing. */
  readonly path: string;
  /** Group commit: most events per transaction. Default 1000. */
  readonly maxBatchEvents?: number;
  /** Group commit: wait for more appends this long. Default 0 (commit when the previous commit ends). */
  readonly batchWindowMs?: number;
  /** Refuse appends while this many events wait. Default 100000. */
  readonly maxPendingEvents?: number;
}

export const SQLITE_DURABILITY =
  'An append resolves after its transaction committed in WAL mode with synchronous=FULL: the WAL is fsynced before COMMIT returns, so the event survives a process crash and a power loss (given a disk that honours fsync).';

type WriterReply =
  | { id: number; ok: true; outcomes?: WriterOutcome[] }
  | { id: number; ok: false; error: WorkerFailure };

function unavailable(failure: WorkerFailure): EventStoreError {
  return new EventStoreError(
    EventStoreErrorCode.Unavailable,
    `the SQLite store could not commit: ${failure.code ? `${failure.code}: ` : ''}${failure.message}`,
  );
}

function toError(outcome: Extract<WriterOutcome, { ok: false }>['error']): Error {
  if (outcome.code === EventStoreErrorCode.WrongExpectedRevision) {
    return new WrongExpectedRevisionError(
      outcome.streamId ?? '',
      outcome.expected ?? 'any',
      outcome.actual ?? null,
    );
  }
  return new EventStoreError(outcome.code, outcome.message);
}

/** The embedded event store: one SQLite file, written by a worker thread, read on the caller's thread. */
class SqliteEventStore implements EventStore {
  readonly info: EventStoreInfo;
  private readonly notifier = new EventEmitter();
  private readonly committer: GroupCommitter<PreparedAppend, AppendResult>;
  private readonly replies = new Map<number, (reply: WriterReply) => void>();
  private nextId = 1;
  private closed = false;
  private readonly genesis: string;

  constructor(
    private readonly worker: Worker,
    private readonly reader: SqliteReader,
    storeId: string,
    file: string,
    options: SqliteEventStoreOptions,
  ) {
    this.notifier.setMaxListeners(0);
    this.genesis = genesisHash(storeId);
    this.info = {
      backend: 'sqlite',
      storeId,
      location: file,
      durability: SQLITE_DURABILITY,
      gaplessPositions: true,
    };
    // The writer thread keeps the process alive only while a request waits for it.
    worker.on('message', (reply: WriterReply) => {
      const resolve = this.replies.get(reply.id);
      this.replies.delete(reply.id);
      if (this.replies.size === 0) worker.unref();
      resolve?.(reply);
    });
    worker.on('exit', () => {
      for (const resolve of this.replies.values()) {
        resolve({
          id: -1,
          ok: false,
          error: { code: 'WORKER_EXITED', message: 'the writer thread exited' },
        });
      }
      this.replies.clear();
    });
    this.committer = new GroupCommitter((batch) => this.commit(batch), {
      maxBatchWeight: options.maxBatchEvents ?? 1000,
      windowMs: options.batchWindowMs ?? 0,
      maxPendingWeight: options.maxPendingEvents ?? 100_000,
      // The writer thread takes batches in order; a second batch waits there while one commits.
      maxInFlight: 2,
    });
  }

  private request(
    msg: WriterRequest extends infer T ? (T extends unknown ? Omit<T, 'id'> : never) : never,
  ): Promise<WriterReply> {
    if (this.closed && msg.op !== 'close') {
      return Promise.reject(
        new EventStoreError(EventStoreErrorCode.Closed, 'the event store is closed'),
      );
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.replies.set(id, resolve);
      this.worker.ref();
      this.worker.postMessage({ ...msg, id });
    });
  }

  private async commit(batch: PreparedAppend[]): Promise<BatchOutcome<AppendResult>[]> {
    const reply = await this.request({ op: 'append', requests: batch });
    if (!reply.ok) throw unavailable(reply.error);
    const outcomes = reply.outcomes!.map((o): BatchOutcome<AppendResult> =>
      o.ok ? o : { ok: false, error: toError(o.error) },
    );
    this.notifier.emit('appended');
    return outcomes;
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

  streamRevision(streamId: string): Promise<number | null> {
    return Promise.resolve(this.reader.streamRevision(checkName('stream id', streamId)));
  }

  async *readStream(
    streamId: string,
    options: ReadStreamOptions = {},
  ): AsyncIterable<RecordedEvent> {
    checkName('stream id', streamId);
    let from = options.fromRevision ?? 0;
    let remaining = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    while (remaining > 0) {
      const page = this.reader.streamPage(streamId, from, Math.min(1000, remaining));
      for (const e of page) yield e;
      if (page.length < Math.min(1000, remaining)) return;
      remaining -= page.length;
      from = page[page.length - 1]!.revision + 1;
    }
  }

  async *readAll(options: ReadAllOptions = {}): AsyncIterable<RecordedEvent> {
    let after = options.after ?? 0;
    const to = options.to ?? Number.MAX_SAFE_INTEGER;
    let remaining = options.maxCount ?? Number.MAX_SAFE_INTEGER;
    const batch = options.batchSize ?? 1000;
    for (;;) {
      const limit = Math.min(batch, remaining);
      const page = this.reader.logPage(after, to, options, limit);
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
          Promise.resolve(this.reader.logPage(after, Number.MAX_SAFE_INTEGER, filter, limit)),
        headPosition: () => Promise.resolve(this.reader.headPosition()),
        loadPosition: (name) => Promise.resolve(this.reader.subscriptionPosition(name)),
        savePosition: async (name, position) => {
          const reply = await this.request({ op: 'saveSubscription', name, position });
          if (!reply.ok) throw unavailable(reply.error);
        },
        notifier: this.notifier,
      },
      options,
    );
  }

  subscriptionPosition(name: string): Promise<number | null> {
    return Promise.resolve(this.reader.subscriptionPosition(checkName('subscription name', name)));
  }

  head(): Promise<StoreHead> {
    const h = this.reader.head();
    return Promise.resolve(
      h
        ? { position: h.position, hash: h.hash, recordedAt: new Date(h.recordedAt) }
        : { position: 0, hash: this.genesis, recordedAt: null },
    );
  }

  async *readChain(options: ReadChainOptions = {}): AsyncIterable<ChainRecord[]> {
    let after = options.after ?? 0;
    const to = options.to ?? Number.MAX_SAFE_INTEGER;
    const batch = options.batchSize ?? 5000;
    for (;;) {
      const page = this.reader.chainPage(after, to, batch);
      if (page.length > 0) yield page;
      if (page.length < batch) return;
      after = page[page.length - 1]!.position;
    }
  }

  hashesAt(positions: readonly number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (const p of positions) {
      if (p === 0) out.set(0, this.genesis);
      const h = this.reader.hashAt(p);
      if (h !== undefined) out.set(p, h);
    }
    return Promise.resolve(out);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.committer.close();
    this.closed = true;
    await this.request({ op: 'close' });
    await this.worker.terminate();
    this.reader.close();
  }
}

/** Opens (creating when needed) the embedded SQLite event store. */
export async function createSqliteEventStore(
  options: SqliteEventStoreOptions,
): Promise<EventStore> {
  const inMemory = options.path === ':memory:';
  const file = inMemory ? options.path : path.resolve(options.path);
  try {
    if (!inMemory) mkdirSync(path.dirname(file), { recursive: true });
  } catch (error) {
    throw new EventStoreError(
      EventStoreErrorCode.Unavailable,
      `cannot create ${path.dirname(file)}: ${(error as Error).message}`,
    );
  }
  const worker = new Worker(workerScript(import.meta.url, 'sqlite-writer.worker'), {
    workerData: { path: file },
  });
  const ready = await new Promise<
    { op: 'ready'; storeId: string } | { op: 'failed'; error: WorkerFailure }
  >((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (ready.op === 'failed') {
    await worker.terminate();
    const code =
      ready.error.code === EventStoreErrorCode.Misconfigured
        ? EventStoreErrorCode.Misconfigured
        : EventStoreErrorCode.Unavailable;
    throw new EventStoreError(code, ready.error.message);
  }
  worker.unref();
  return new SqliteEventStore(worker, new SqliteReader(file), ready.storeId, file, options);
}
