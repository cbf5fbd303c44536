import { type EventEmitter } from 'node:events';
import type { LogFilter, RecordedEvent, SubscribeOptions, Subscription } from '../event-store.js';
import { checkName } from './prepare.js';

/** One page of the filtered global log. */
export interface LogPage {
  readonly events: readonly RecordedEvent[];
  /** Everything up to this position has been read (matching or not). */
  readonly scannedTo: number;
  /** The log's last position when the page was read. */
  readonly head: number;
  /** The last position the read can ever return (its `to`, the head, or a time bound): a reader is done once `scannedTo` reaches it. */
  readonly end: number;
}

/** What a backend gives the generic subscription loop. */
export interface SubscriptionSource {
  readPage(after: number, filter: LogFilter, limit: number): Promise<LogPage>;
  headPosition(): Promise<number>;
  loadPosition(name: string): Promise<number | null>;
  savePosition(name: string, position: number): Promise<void>;
  /** Emits `appended` after this process commits, and whenever the backend learns of new events. */
  readonly notifier: EventEmitter;
}

/**
 * Catch-up subscription over any backend: pages through the log after a position, hands each
 * event to the handler in order, persists the position after each page, and once caught up
 * waits for a notification (or the poll interval) before reading again.
 */
export function runSubscription(
  source: SubscriptionSource,
  options: SubscribeOptions,
): Subscription {
  if (options.name !== undefined) checkName('subscription name', options.name);
  const batchSize = options.batchSize ?? 500;
  const pollMs = options.pollIntervalMs ?? 250;
  const filter: LogFilter = {
    ...(options.types ? { types: options.types } : {}),
    ...(options.streamPrefixes ? { streamPrefixes: options.streamPrefixes } : {}),
    ...(options.since ? { since: options.since } : {}),
  };
  let position = options.after ?? 0;
  let stopping = false;
  let live = false;
  let wake: (() => void) | null = null;
  const waiters: { target: number; resolve: () => void }[] = [];
  const onAppended = () => wake?.();
  source.notifier.on('appended', onAppended);

  const settleWaiters = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i]!.target <= position) {
        waiters[i]!.resolve();
        waiters.splice(i, 1);
      }
    }
  };

  const loop = async () => {
    if (options.name !== undefined)
      position = (await source.loadPosition(options.name)) ?? position;
    const startHead = await source.headPosition();
    while (!stopping) {
      const page = await source.readPage(position, filter, batchSize);
      for (const event of page.events) {
        if (stopping) break;
        live = live || event.position > startHead;
        await options.handler(event, { live });
        position = event.position;
      }
      if (stopping) break;
      const advanced = page.scannedTo > position;
      if (advanced) position = page.scannedTo;
      if (options.name !== undefined && (page.events.length > 0 || advanced)) {
        await source.savePosition(options.name, position);
      }
      settleWaiters();
      if (position >= page.head) {
        live = true;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, pollMs);
          function done() {
            clearTimeout(timer);
            wake = null;
            resolve();
          }
          wake = done;
        });
      }
    }
    if (options.name !== undefined) await source.savePosition(options.name, position);
    settleWaiters();
  };

  const done = loop().finally(() => {
    source.notifier.off('appended', onAppended);
    for (const w of waiters.splice(0)) w.resolve();
  });
  done.catch(() => undefined);

  return {
    get position() {
      return position;
    },
    async caughtUp() {
      const target = await source.headPosition();
      if (position >= target) return;
      await Promise.race([
        new Promise<void>((resolve) => waiters.push({ target, resolve })),
        done.then(
          () => undefined,
          () => undefined,
        ),
      ]);
      await Promise.race([done, Promise.resolve()]);
    },
    async stop() {
      stopping = true;
      wake?.();
      await done;
    },
    done,
  };
}
