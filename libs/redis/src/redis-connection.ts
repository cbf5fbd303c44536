import { EventEmitter } from 'node:events';
import { Redis, type RedisOptions } from 'ioredis';
import {
  RedisPasswordError,
  RedisPasswordErrorCode,
  redactSecrets,
} from './redis-acl-passwords.js';

/** Options of {@link RedisConnection}. */
export interface RedisConnectionOptions {
  /** redis:// or rediss:// URL (may carry a password: never logged as is). */
  readonly url: string;
  /**
   * Password to connect with, overriding the URL's (so that the URL can stay a non-secret
   * setting). Only the first connect's: {@link RedisConnection.switchPassword} replaces it.
   * Default: the URL's password, if any.
   */
  readonly password?: string;
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
    // ioredis lets the URL's password win over an options object's, so it is set afterwards.
    if (options.password !== undefined) this.client.options.password = options.password;
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

  /** The ACL user it authenticates as: the URL's, or `default`. */
  get username(): string {
    return this.client.options.username || 'default';
  }

  /**
   * Switches to another password without reconnecting: AUTH on the live connection (queued
   * behind commands already sent, so none is lost), then reconnects use it too. Throws
   * {@link RedisPasswordError} and keeps the previous password if AUTH fails, e.g. while Redis
   * is unavailable (commands are not queued offline).
   */
  switchPassword(password: string): Promise<void> {
    return applyPassword(this.client, password);
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

/**
 * Re-authenticates a live ioredis connection with `password` (as its current username, or
 * `default`) and, only once that succeeded, makes it the password of its later reconnects. AUTH
 * is queued behind the commands already sent, so nothing is interrupted or lost; a connection
 * blocked in e.g. BRPOPLPUSH answers only when the block ends.
 *
 * For connections that are not a {@link RedisConnection}, such as the ones BullMQ creates.
 * Throws {@link RedisPasswordError} (`AuthFailed`) without changing anything if AUTH fails,
 * including when the connection is down and has no offline queue (with one, AUTH waits for the
 * reconnect, which still uses the previous password).
 */
export async function applyPassword(client: Redis, password: string): Promise<void> {
  const username = client.options.username || 'default';
  try {
    await client.auth(username, password);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new RedisPasswordError(
      RedisPasswordErrorCode.AuthFailed,
      `AUTH as ${username} failed: ${redactSecrets(message, [password])}`,
    );
  }
  // ioredis builds each (re)connect's HELLO/AUTH from these options.
  client.options.password = password;
}
