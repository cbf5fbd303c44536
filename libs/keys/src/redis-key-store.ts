import { createHash, randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { KeysError, KeysErrorCode } from './keys.errors.js';
import {
  ChangeListeners,
  assertNextVersion,
  parseRingDocument,
  type KeyStore,
  type RingUpdate,
} from './key-store.js';
import type { RingDocument } from './key-record.js';

/** Options of {@link RedisKeyStore}. */
export interface RedisKeyStoreOptions {
  /**
   * The connection commands are sent on. The caller owns it: {@link RedisKeyStore.close} leaves it
   * open. Watching uses a `duplicate()` of it, since a subscribing connection can send nothing else.
   */
  readonly client: Redis;
  /**
   * Name of the document's key; the lock is `<prefix>:lock` and change notices are published on
   * `<prefix>:changed`. Default `sscontrol:keyring`.
   */
  readonly prefix?: string;
}

/** Lock lease. Longer than the 10 s a waiter gives up after, so a live holder is not overtaken. */
const LOCK_TTL_MS = 15_000;
const LOCK_WAIT_MS = 10_000;
const LOCK_RETRY_MS = 25;
/** Pub/sub messages sent while the subscriber is disconnected are lost; this poll catches up. */
const POLL_MS = 2_000;

// Compare-and-delete: only the holder's token releases the lock (after an expiry, another process
// may hold it).
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0`;

// Compare-and-set under the lock. The lock should make the checks redundant; they refuse the write
// when the lease expired during a slow update and another process took over. Returns 1 written,
// -1 the lock is no longer ours, -2 the stored version is not the one the update started from.
const WRITE = `if redis.call('get', KEYS[2]) ~= ARGV[1] then return -1 end
local stored = redis.call('get', KEYS[1])
local version = 0
if stored then
  local ok, doc = pcall(cjson.decode, stored)
  if not ok or type(doc) ~= 'table' or type(doc.version) ~= 'number' then return -2 end
  version = doc.version
end
if version ~= tonumber(ARGV[2]) then return -2 end
redis.call('set', KEYS[1], ARGV[3])
redis.call('publish', ARGV[4], ARGV[5])
return 1`;

/**
 * The key store of instances sharing a Redis: the ring is one string key, written by a Lua
 * compare-and-set under a `SET NX PX` lock, and every write is published so that other instances
 * re-read within milliseconds (a poll every 2 s covers messages lost while disconnected).
 *
 * Errors carry the Redis error's message only: ioredis attaches the failed command with its
 * arguments (the sealed document) to its errors, so they are never kept as `cause`.
 */
export class RedisKeyStore implements KeyStore {
  readonly backend = 'redis' as const;
  private readonly client: Redis;
  private readonly key: string;
  private readonly lockKey: string;
  private readonly channel: string;
  private readonly listeners = new ChangeListeners(
    () => {
      this.watcher ??= this.startWatching();
    },
    () => this.stopWatching(),
  );
  private watcher: { subscriber: Redis; timer: NodeJS.Timeout } | null = null;

  constructor(options: RedisKeyStoreOptions) {
    this.client = options.client;
    this.key = options.prefix ?? 'sscontrol:keyring';
    this.lockKey = `${this.key}:lock`;
    this.channel = `${this.key}:changed`;
  }

  async read(): Promise<RingDocument | null> {
    const text = await this.run('read', () => this.client.get(this.key));
    return text === null ? null : parseRingDocument(text, `redis key ${this.key}`);
  }

  async update<T>(fn: (current: RingDocument | null) => Promise<RingUpdate<T>>): Promise<T> {
    const token = randomBytes(16).toString('hex');
    await this.lock(token);
    try {
      const current = await this.read();
      const { next, result } = await fn(current);
      if (next) {
        assertNextVersion(current, next);
        await this.write(token, current?.version ?? 0, next);
      }
      return result;
    } finally {
      // A failed release leaves the lock to expire after its lease; the update's outcome stands.
      await this.client.eval(RELEASE, 1, this.lockKey, token).catch(() => undefined);
    }
  }

  private async lock(token: string): Promise<void> {
    const deadline = Date.now() + LOCK_WAIT_MS;
    for (;;) {
      const ok = await this.run('lock', () =>
        this.client.set(this.lockKey, token, 'PX', LOCK_TTL_MS, 'NX'),
      );
      if (ok === 'OK') return;
      if (Date.now() >= deadline) {
        throw new KeysError(
          KeysErrorCode.KeyStoreBusy,
          `the key store is locked by another process (redis key ${this.lockKey}); try again`,
        );
      }
      await sleep(LOCK_RETRY_MS);
    }
  }

  private async write(token: string, previous: number, next: RingDocument): Promise<void> {
    const outcome = await this.run('write', () =>
      this.client.eval(
        WRITE,
        2,
        this.key,
        this.lockKey,
        token,
        String(previous),
        JSON.stringify(next),
        this.channel,
        String(next.version),
      ),
    );
    if (outcome === 1) return;
    throw new KeysError(
      KeysErrorCode.KeyStoreBusy,
      outcome === -1
        ? `the key store lock (redis key ${this.lockKey}) expired during the update (held over ${LOCK_TTL_MS} ms); nothing was written, try again`
        : `the ring (redis key ${this.key}) changed during the update; nothing was written, try again`,
    );
  }

  watch(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  private startWatching(): { subscriber: Redis; timer: NodeJS.Timeout } {
    void this.check();
    // The caller's client may be set to fail fast (no offline queue); the subscriber must instead
    // wait out an outage and resubscribe.
    const subscriber = this.client.duplicate({
      enableOfflineQueue: true,
      lazyConnect: false,
      maxRetriesPerRequest: null,
    });
    // Connection errors are retried by ioredis; the poll covers the gap.
    subscriber.on('error', () => undefined);
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      this.listeners.announced(message);
    });
    // ioredis resubscribes after a reconnect; what was published meanwhile is found by a check.
    subscriber.on('ready', () => void this.check());
    subscriber.subscribe(this.channel).catch(() => undefined);
    const timer = setInterval(() => void this.check(), POLL_MS);
    timer.unref();
    return { subscriber, timer };
  }

  private stopWatching(): void {
    const watcher = this.watcher;
    if (!watcher) return;
    this.watcher = null;
    clearInterval(watcher.timer);
    watcher.subscriber.disconnect();
  }

  /** Compares the stored version with the last one seen; the first check only records it. */
  private async check(): Promise<void> {
    let current: number | string;
    try {
      const text = await this.client.get(this.key);
      current = text === null ? 0 : versionOf(text);
    } catch {
      return;
    }
    this.listeners.observed(current);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private async run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw new KeysError(
        KeysErrorCode.KeyStoreUnavailable,
        `cannot ${what} the key ring in Redis (key ${this.key}): ${error instanceof Error ? error.message : 'error'}`,
      );
    }
  }
}

/** The version of a stored document, or a digest of it when it has none (corrupt). */
function versionOf(text: string): number | string {
  try {
    const version = (JSON.parse(text) as { version?: unknown }).version;
    if (typeof version === 'number') return version;
  } catch {
    // not JSON: fall through
  }
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}
