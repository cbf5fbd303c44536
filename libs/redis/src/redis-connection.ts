import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';

/** Options of {@link RedisConnection}. */
export interface RedisConnectionOptions {
  /** redis:// or rediss:// URL (may carry a password: never logged as is). */
  readonly url: string;
  /** Shown in CLIENT LIST, e.g. `sscontrol-control`. */
  readonly name: string;
  /** Longest wait between reconnection attempts. Default 5 s. */
  readonly maxRetryDelayMs?: number;
}

/** Connection state, as `/health` and the jobs runner see it. */
export type RedisState = 'connecting' | 'ready' | 'unavailable' | 'closed';

/**
 * One ioredis connection that never gives up: while Redis is missing it keeps reconnecting
 * with capped backoff and says so once (`unavailable` event), and emits `ready` whenever it
 * (re)connects. Commands on the request path fail fast instead of queueing while disconnected.
 */
export class RedisConnection extends EventEmitter {
  readonly client: Redis;
  private current: RedisState = 'connecting';
  private lastError: string | null = null;

  constructor(readonly options: RedisConnectionOptions) {
    super();
    const maxDelay = options.maxRetryDelayMs ?? 5000;
    const redisOptions: RedisOptions = {
      connectionName: options.name,
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 5000,
      retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 10), maxDelay),
    };
    this.client = new Redis(options.url, redisOptions);
    this.client.on('ready', () => this.set('ready'));
    this.client.on('error', (error: Error) => {
      this.lastError = error.message;
      if (this.current !== 'unavailable') this.set('unavailable');
    });
    this.client.on('end', () => this.set(this.current === 'closed' ? 'closed' : 'unavailable'));
  }

  get state(): RedisState {
    return this.current;
  }

  /** The last connection error (for health output; it never contains the password). */
  get error(): string | null {
    return this.lastError;
  }

  private set(state: RedisState): void {
    if (state === this.current) return;
    this.current = state;
    this.emit(state);
  }

  /** Starts connecting; resolves once ready or after the first failure (it keeps retrying). */
  async start(): Promise<RedisState> {
    await this.client.connect().catch(() => undefined);
    return this.current;
  }

  /** Resolves when ready (immediately if it is). */
  whenReady(): Promise<void> {
    if (this.current === 'ready') return Promise.resolve();
    return new Promise((resolve) => this.once('ready', () => resolve()));
  }

  async close(): Promise<void> {
    this.current = 'closed';
    this.client.disconnect();
    this.emit('closed');
  }
}
