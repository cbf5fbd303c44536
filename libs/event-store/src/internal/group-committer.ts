import { EventStoreError, EventStoreErrorCode } from '../event-store.errors.js';

/** Outcome of one request within a committed batch. */
export type BatchOutcome<R> = { ok: true; value: R } | { ok: false; error: Error };

/** Options of {@link GroupCommitter}. */
export interface GroupCommitterOptions<Q = unknown> {
  /** Most weight (events) committed in one batch. */
  readonly maxBatchWeight: number;
  /** Wait this long for more requests before committing; 0 commits as soon as a commit slot is free. */
  readonly windowMs: number;
  /** Requests are refused with `event_store_overloaded` while this much weight is queued. */
  readonly maxPendingWeight: number;
  /**
   * Commits handed to the backend before the previous one finished (default 1). With 2, the next
   * batch is already waiting at the backend when the current one commits, so the backend never
   * idles for a round trip; batches are split so that both slots carry work.
   */
  readonly maxInFlight?: number;
  /**
   * With several commits in flight on independent connections, their order at the backend is not
   * guaranteed. Requests with the same key (stream) are therefore never in two commits at once:
   * a request whose key is in flight waits for the next batch, which keeps each stream in
   * submission order.
   */
  readonly keyOf?: (request: Q) => string;
}

interface Pending<Q, R> {
  readonly request: Q;
  readonly weight: number;
  readonly resolve: (value: R) => void;
  readonly reject: (error: Error) => void;
}

/**
 * Group commit: requests queued while commits are in flight are committed together in the next
 * one, so concurrent appends share transactions and fsyncs. A request resolves only after the
 * commit that holds it returns; a commit that fails rejects every request in it. Commits are
 * handed to the backend in submission order.
 */
export class GroupCommitter<Q, R> {
  private queue: Pending<Q, R>[] = [];
  private queuedWeight = 0;
  private inFlight = 0;
  private scheduled = false;
  private closed = false;
  private readonly maxInFlight: number;
  private idle: (() => void)[] = [];
  private readonly inFlightKeys = new Map<string, number>();

  constructor(
    private readonly commit: (requests: Q[]) => Promise<BatchOutcome<R>[]>,
    private readonly options: GroupCommitterOptions<Q>,
  ) {
    this.maxInFlight = options.maxInFlight ?? 1;
  }

  /** Number of requests waiting for a commit. */
  get pending(): number {
    return this.queue.length;
  }

  submit(request: Q, weight: number): Promise<R> {
    if (this.closed) {
      return Promise.reject(
        new EventStoreError(EventStoreErrorCode.Closed, 'the event store is closed'),
      );
    }
    if (this.queuedWeight + weight > this.options.maxPendingWeight && this.queue.length > 0) {
      return Promise.reject(
        new EventStoreError(
          EventStoreErrorCode.Overloaded,
          `${this.queuedWeight} events are already waiting for a commit`,
        ),
      );
    }
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ request, weight, resolve, reject });
      this.queuedWeight += weight;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.inFlight >= this.maxInFlight) return;
    this.scheduled = true;
    const run = () => {
      this.scheduled = false;
      this.startCommits();
    };
    if (
      this.options.windowMs > 0 &&
      !this.closed &&
      this.queuedWeight < this.options.maxBatchWeight
    ) {
      setTimeout(run, this.options.windowMs);
    } else {
      // Appends issued in the same tick join this commit.
      setImmediate(run);
    }
  }

  private startCommits(): void {
    while (this.queue.length > 0 && this.inFlight < this.maxInFlight) {
      const freeSlots = this.maxInFlight - this.inFlight;
      const limit = Math.min(this.options.maxBatchWeight, Math.ceil(this.queuedWeight / freeSlots));
      const batch = this.take(limit);
      if (batch.length === 0) return;
      this.inFlight++;
      this.run(batch);
    }
  }

  private take(limit: number): Pending<Q, R>[] {
    const batch: Pending<Q, R>[] = [];
    let weight = 0;
    const keyOf = this.options.keyOf;
    if (!keyOf || this.inFlight === 0) {
      while (this.queue.length > 0) {
        const next = this.queue[0]!;
        if (batch.length > 0 && weight + next.weight > limit) break;
        batch.push(this.queue.shift()!);
        weight += next.weight;
      }
    } else {
      const held = new Set<string>();
      const rest: Pending<Q, R>[] = [];
      for (const p of this.queue) {
        const key = keyOf(p.request);
        if (
          held.has(key) ||
          this.inFlightKeys.has(key) ||
          (batch.length > 0 && weight + p.weight > limit)
        ) {
          held.add(key);
          rest.push(p);
        } else {
          batch.push(p);
          weight += p.weight;
        }
      }
      this.queue = rest;
    }
    this.queuedWeight -= weight;
    if (keyOf) {
      for (const p of batch) {
        const key = keyOf(p.request);
        this.inFlightKeys.set(key, (this.inFlightKeys.get(key) ?? 0) + 1);
      }
    }
    return batch;
  }

  private release(batch: Pending<Q, R>[]): void {
    const keyOf = this.options.keyOf;
    if (!keyOf) return;
    for (const p of batch) {
      const key = keyOf(p.request);
      const n = (this.inFlightKeys.get(key) ?? 1) - 1;
      if (n === 0) this.inFlightKeys.delete(key);
      else this.inFlightKeys.set(key, n);
    }
  }

  private run(batch: Pending<Q, R>[]): void {
    this.commit(batch.map((p) => p.request))
      .then(
        (outcomes) => {
          batch.forEach((p, i) => {
            const o = outcomes[i];
            if (!o) p.reject(new Error('commit returned no outcome for a request'));
            else if (o.ok) p.resolve(o.value);
            else p.reject(o.error);
          });
        },
        (error: unknown) => {
          const e = error instanceof Error ? error : new Error(String(error));
          for (const p of batch) p.reject(e);
        },
      )
      .finally(() => {
        this.release(batch);
        this.inFlight--;
        if (this.queue.length > 0) this.schedule();
        else if (this.inFlight === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
  }

  /** Commits what is queued, then refuses further requests. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.queue.length === 0 && this.inFlight === 0) return;
    await new Promise<void>((resolve) => {
      this.idle.push(resolve);
      this.schedule();
    });
  }
}
