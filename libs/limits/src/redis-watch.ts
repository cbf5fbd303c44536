import type { Redis } from 'ioredis';

/** Options of {@link RedisWatch}. */
export interface RedisWatchOptions {
  /** The caller's command connection; the watch subscribes on a `duplicate()` of it. */
  readonly client: Redis;
  readonly channel: string;
  /** Interval of the poll that catches what pub/sub missed. */
  readonly pollMs: number;
  /**
   * Re-reads the watched state: `full` after a change message, a reconnect or an explicit
   * request, not `full` for a routine poll (which may check a version first).
   */
  readonly reload: (full: boolean) => Promise<void>;
  /** A reload failed (the last good state is kept; the next poll tries again). */
  readonly onError: (error: unknown) => void;
}

/**
 * Follows a Redis-held state: a change message on `channel` or a reconnect triggers a reload,
 * and a poll catches the messages pub/sub dropped (it delivers at most once, and nothing while
 * the subscriber is disconnected). Reloads never overlap: requests during one run it once more.
 */
export class RedisWatch {
  private subscriber: Redis | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private pending: boolean | null = null;
  private closed = false;

  constructor(private readonly options: RedisWatchOptions) {}

  start(): void {
    const { client, channel, pollMs } = this.options;
    // The caller's client may fail fast (no offline queue); the subscriber must instead wait out
    // an outage and resubscribe (ioredis does on reconnect).
    const subscriber = client.duplicate({
      enableOfflineQueue: true,
      lazyConnect: false,
      maxRetriesPerRequest: null,
    });
    this.subscriber = subscriber;
    // Connection errors are retried by ioredis and reported by the caller's own connection.
    subscriber.on('error', () => undefined);
    subscriber.on('message', (from: string) => {
      if (from === channel) this.request(true);
    });
    subscriber.on('ready', () => this.request(true));
    // Once subscribed, what changed since the caller's first load is read once more.
    subscriber.subscribe(channel).then(
      () => this.request(true),
      () => undefined,
    );
    this.timer = setInterval(() => this.request(false), pollMs);
    this.timer.unref();
  }

  /** Asks for a reload; coalesced with one in progress. */
  request(full: boolean): void {
    if (this.closed) return;
    this.pending = (this.pending ?? false) || full;
    this.running ??= this.run().finally(() => {
      this.running = null;
    });
  }

  /** Resolves when no reload is running or pending. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.subscriber?.disconnect();
    this.subscriber = null;
    await this.idle();
  }

  private async run(): Promise<void> {
    while (this.pending !== null && !this.closed) {
      const full = this.pending;
      this.pending = null;
      try {
        await this.options.reload(full);
      } catch (error) {
        this.options.onError(error);
      }
    }
  }
}
