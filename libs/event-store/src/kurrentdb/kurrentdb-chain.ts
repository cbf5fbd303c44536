import type { EventEmitter } from 'node:events';
import { jsonEvent, NO_STREAM } from '@kurrent/kurrentdb-client';
import { CHAIN_VERSION } from '../chain.js';
import { EventStoreError, EventStoreErrorCode } from '../event-store.errors.js';
import type { KurrentDbLog } from './kurrentdb-log.js';
import {
  CHAIN_SEALED_TYPE,
  clientErrorType,
  decodeChainEntries,
  sealEntries,
  type ChainEntry,
  type ClientEvent,
  type StoredEvent,
} from './kurrentdb-mapping.js';

/** Most events one chain record covers. */
export const SEAL_MAX_EVENTS = 500;
/** How often an idle sealer looks for events appended by other processes. */
export const SEAL_POLL_MS = 200;
/** Pause after a failed sealing round. */
const SEAL_RETRY_MS = 1000;
/** Chain records kept decoded in memory for hash look-ups. */
const CACHED_RECORDS = 64;

/** A decoded `chain.sealed` event. */
export interface ChainRecordInfo {
  /** Revision in the chain stream. */
  readonly revision: number;
  readonly entries: readonly ChainEntry[];
  /** Position of its first and last event. */
  readonly first: number;
  readonly last: number;
}

function decodeRecord(event: ClientEvent): ChainRecordInfo {
  const entries = decodeChainEntries(
    event.type === CHAIN_SEALED_TYPE ? event.data : null,
    event.revision,
  );
  return {
    revision: Number(event.revision),
    entries,
    first: entries[0]![0],
    last: entries[entries.length - 1]![0],
  };
}

/**
 * Reads the chain stream. Chain records cover consecutive events in `$all` order, so positions
 * increase with the record revision: a position is found by binary search over revisions, and a
 * run of ascending positions by walking forward from there.
 */
export class ChainIndex {
  private readonly cache = new Map<number, ChainRecordInfo>();

  constructor(private readonly log: KurrentDbLog) {}

  /** Keeps a record the sealer just wrote, saving the next reader a round trip. */
  remember(record: ChainRecordInfo): void {
    this.cache.delete(record.revision);
    this.cache.set(record.revision, record);
    if (this.cache.size > CACHED_RECORDS) this.cache.delete(this.cache.keys().next().value!);
  }

  /** The last chain record, or null when nothing is sealed. */
  async tail(): Promise<ChainRecordInfo | null> {
    const event = await this.log.lastEvent(this.log.streams.chain);
    if (!event) return null;
    const record = decodeRecord(event);
    this.remember(record);
    return record;
  }

  /** The record at `revision` (or the first one after it), served from memory when possible. */
  async record(revision: number): Promise<ChainRecordInfo | null> {
    const cached = this.cache.get(revision);
    if (cached) {
      this.remember(cached);
      return cached;
    }
    const [record] = await this.records(revision, 1);
    if (record) this.remember(record);
    return record ?? null;
  }

  /** Up to `count` records from `revision`, read afresh (verification must not trust memory). */
  async records(revision: number, count: number): Promise<ChainRecordInfo[]> {
    const events = await this.log.readStream(this.log.streams.chain, revision, count);
    return (events ?? []).map(decodeRecord);
  }

  /** Revision of the first record with an event after `position`, or null when there is none. */
  async firstRevisionAfter(position: number, tail: ChainRecordInfo): Promise<number | null> {
    if (tail.last <= position) return null;
    let lo = 0;
    let hi = tail.revision;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const record = await this.record(mid);
      if (!record) return null;
      if (record.last > position) hi = Math.min(mid, record.revision);
      else lo = record.revision + 1;
    }
    return lo;
  }

  /** The sealed hashes of the given positions (ascending); unsealed positions are absent. */
  async hashes(positions: readonly number[]): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    const first = positions[0];
    if (first === undefined) return out;
    const tail = await this.tail();
    if (!tail) return out;
    const start = await this.firstRevisionAfter(first - 1, tail);
    if (start === null) return out;
    let record = await this.record(start);
    let byPosition = record ? new Map(record.entries.map((e) => [e[0], e[5]])) : null;
    for (const position of positions) {
      while (record && record.last < position) {
        record = record.revision < tail.revision ? await this.record(record.revision + 1) : null;
        byPosition = record ? new Map(record.entries.map((e) => [e[0], e[5]])) : null;
      }
      if (!record || !byPosition) break;
      const hash = byPosition.get(position);
      if (hash !== undefined) out.set(position, hash);
    }
    return out;
  }
}

/** The chain as far as it is sealed. */
export interface SealedHead {
  /** Position of the last sealed event (0 when none). */
  readonly position: number;
  /** Its hash (the genesis hash when none). */
  readonly hash: string;
  /** Revision of the last chain record, or null when the chain stream does not exist. */
  readonly revision: bigint | null;
}

interface Waiter {
  readonly ready: () => boolean;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * The chain sealer. KurrentDB events are immutable, so the hash chain cannot be written with them:
 * each open store runs a sealer that follows this store's events in `$all` order, chains them
 * (`chain.ts`) and appends the hashes, up to {@link SEAL_MAX_EVENTS} at a time, as one
 * `chain.sealed` record to the chain stream. The append expects the chain stream's last revision,
 * so when several processes seal at once exactly one record lands per step; the others re-read the
 * chain head and continue after it. The chain is a function of the store id and the events, so it
 * does not matter which process seals what.
 */
export class ChainSealer {
  private state: SealedHead;
  private known = false;
  private stopped = false;
  private nudged = false;
  private wake: (() => void) | null = null;
  private round = 0;
  private caughtUpRound = 0;
  private readonly waiters = new Set<Waiter>();
  private lastError: EventStoreError | null = null;
  private loop: Promise<void> | null = null;

  constructor(
    private readonly log: KurrentDbLog,
    private readonly index: ChainIndex,
    private readonly genesis: string,
    /** Events of this store are never before this position (its `store.created` event). */
    private readonly origin: number,
    /** Told `appended` whenever newly sealed events become readable. */
    private readonly notifier: EventEmitter,
  ) {
    this.state = { position: 0, hash: genesis, revision: null };
  }

  /** The chain head as this sealer last saw it. */
  get head(): SealedHead {
    return this.state;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Seals soon: called after this process appended. */
  nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /** Resolves once every event up to `position` is sealed. */
  waitFor(position: number, timeoutMs: number): Promise<void> {
    return this.wait(() => this.state.position >= position, timeoutMs, `position ${position}`);
  }

  /** Resolves once the sealer has sealed everything recorded before the call. */
  sync(timeoutMs: number): Promise<void> {
    const after = this.round;
    return this.wait(() => this.caughtUpRound > after, timeoutMs, 'the end of the log');
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new EventStoreError(EventStoreErrorCode.Closed, 'the event store is closed'));
    }
    this.waiters.clear();
  }

  private wait(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (ready()) return Promise.resolve();
    if (this.stopped) {
      return Promise.reject(
        new EventStoreError(EventStoreErrorCode.Closed, 'the event store is closed'),
      );
    }
    this.nudge();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        ready,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const why = this.lastError ? `: ${this.lastError.message}` : '';
          reject(
            new EventStoreError(
              EventStoreErrorCode.Unavailable,
              `the chain sealer did not reach ${what} within ${timeoutMs} ms${why}`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private settle(): void {
    for (const w of this.waiters) {
      if (w.ready()) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  private async refresh(): Promise<void> {
    const tail = await this.index.tail();
    const last = tail?.entries[tail.entries.length - 1];
    this.state =
      tail && last
        ? { position: last[0], hash: last[5], revision: BigInt(tail.revision) }
        : { position: 0, hash: this.genesis, revision: null };
    this.known = true;
  }

  private sleep(ms: number): Promise<void> {
    if (this.nudged || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      // An idle sealer alone does not keep the process alive.
      const timer = setTimeout(done, ms).unref();
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const round = ++this.round;
      this.nudged = false;
      try {
        if (!this.known) {
          await this.refresh();
          this.settle();
        }
        const page = await this.log.scan(
          Math.max(this.state.position, this.origin),
          this.log.baseFilter,
          () => true,
          SEAL_MAX_EVENTS,
        );
        if (page.events.length > 0 && !(await this.seal(page.events))) continue;
        this.lastError = null;
        if (!page.end) continue;
        this.caughtUpRound = round;
        this.settle();
        await this.sleep(SEAL_POLL_MS);
      } catch (error) {
        this.lastError = this.log.fail(error, 'seal the chain');
        this.known = false;
        await this.sleep(SEAL_RETRY_MS);
      }
    }
  }

  /** Appends one chain record; false when another sealer got there first. */
  private async seal(events: readonly StoredEvent[]): Promise<boolean> {
    const entries = sealEntries(this.state.hash, events);
    const last = entries[entries.length - 1]!;
    let result;
    try {
      result = await this.log.append(
        this.log.streams.chain,
        [
          jsonEvent({
            type: CHAIN_SEALED_TYPE,
            data: { entries: entries.map((e) => [...e]) },
            metadata: { sscontrol: { chain: CHAIN_VERSION } },
          }),
        ],
        this.state.revision ?? NO_STREAM,
      );
    } catch (error) {
      if (clientErrorType(error) !== 'wrong-expected-version') throw error;
      this.known = false;
      return false;
    }
    if (!result.success) {
      this.known = false;
      return false;
    }
    const revision = result.nextExpectedRevision;
    this.index.remember({
      revision: Number(revision),
      entries,
      first: entries[0]![0],
      last: last[0],
    });
    this.state = { position: last[0], hash: last[5], revision };
    this.settle();
    this.notifier.emit('appended');
    return true;
  }
}
