import type { Redis } from 'ioredis';
import { LimitsError, LimitsErrorCode, asLimitsError } from './limits.errors.js';
import {
  LocalLockdown,
  NOT_LOCKED_DOWN,
  parseLockdownOptions,
  parseStoredLockdown,
  type Lockdown,
  type LockdownListener,
  type LockdownOptions,
  type LockdownState,
} from './lockdown.js';
import { RedisWatch } from './redis-watch.js';

/** Options of {@link RedisLockdown}. */
export interface RedisLockdownOptions {
  /**
   * The connection commands are sent on (fail-fast settings are fine). The caller owns it and
   * connects it before {@link RedisLockdown.start}; changes are followed on a `duplicate()`.
   */
  readonly client: Redis;
  /**
   * Prefix of the key `<prefix>lockdown` (JSON `{dropExisting, reason?, incidentId?, since}`,
   * present exactly while in lockdown) and the channel `<prefix>lockdown:changed`.
   * Default `sscontrol:`.
   */
  readonly prefix?: string;
  /** How often the key is re-read, to catch a lost change message. Default 2000 ms. */
  readonly pollMs?: number;
  /** Wall clock of `since`, in ms. Default `Date.now`. */
  readonly clock?: () => number;
  /**
   * A background reload failed (the last state read stays in force), or the key holds no
   * lockdown record (in lockdown regardless). Default: ignored.
   */
  readonly onError?: (error: LimitsError) => void;
}

// Keeps `since` of a lockdown already on. KEYS: key; ARGV: record-without-since now channel.
const SET = `local since = ARGV[2]
local current = redis.call('GET', KEYS[1])
if current then
  local ok, d = pcall(cjson.decode, current)
  if ok and type(d) == 'table' and type(d.since) == 'string' then since = d.since end
end
local record = cjson.decode(ARGV[1])
record.since = since
local value = cjson.encode(record)
redis.call('SET', KEYS[1], value)
redis.call('PUBLISH', ARGV[3], '1')
return value`;
// KEYS: key; ARGV: channel.
const CLEAR = `local n = redis.call('DEL', KEYS[1])
if n == 1 then redis.call('PUBLISH', ARGV[1], '0') end
return n`;

interface Scripted extends Redis {
  sscLimitsLockdownSet(key: string, record: string, now: string, channel: string): Promise<string>;
  sscLimitsLockdownClear(key: string, channel: string): Promise<number>;
}

/**
 * The lockdown flag of a cluster (`SIGNALING_CLUSTER=redis`): one key, present while in lockdown.
 * Every instance reads it at start, on each change message (within milliseconds) and on a poll
 * (every 2 s, in case a message was lost), and answers {@link state} from its copy.
 */
export class RedisLockdown implements Lockdown {
  readonly backend = 'redis' as const;
  private readonly redis: Scripted;
  private readonly key: string;
  private readonly channel: string;
  private readonly clock: () => number;
  private readonly onError: (error: LimitsError) => void;
  private readonly local = new LocalLockdown();
  private readonly watch: RedisWatch;
  private reportedRaw: string | null = null;
  private writes = 0;
  private started = false;

  constructor(options: RedisLockdownOptions) {
    const prefix = options.prefix ?? 'sscontrol:';
    this.key = `${prefix}lockdown`;
    this.channel = `${prefix}lockdown:changed`;
    this.clock = options.clock ?? Date.now;
    this.onError = options.onError ?? (() => undefined);
    const scripts = { sscLimitsLockdownSet: SET, sscLimitsLockdownClear: CLEAR };
    for (const [name, lua] of Object.entries(scripts)) {
      if (!(name in options.client)) options.client.defineCommand(name, { numberOfKeys: 1, lua });
    }
    this.redis = options.client as Scripted;
    this.watch = new RedisWatch({
      client: options.client,
      channel: this.channel,
      pollMs: options.pollMs ?? 2000,
      reload: () => this.reload(),
      onError: (error) => this.onError(asLimitsError('reload the lockdown flag', error)),
    });
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.reload();
    this.started = true;
    this.watch.start();
  }

  async close(): Promise<void> {
    await this.watch.close();
    this.local.clearListeners();
  }

  state(): LockdownState {
    return this.local.state;
  }

  async set(options?: LockdownOptions): Promise<LockdownState> {
    const parsed = parseLockdownOptions(options);
    const record = JSON.stringify({
      dropExisting: parsed.dropExisting ?? false,
      ...(parsed.reason !== undefined ? { reason: parsed.reason } : {}),
      ...(parsed.incidentId !== undefined ? { incidentId: parsed.incidentId } : {}),
    });
    const stored = await this.run('set the lockdown', () =>
      this.redis.sscLimitsLockdownSet(
        this.key,
        record,
        new Date(this.clock()).toISOString(),
        this.channel,
      ),
    );
    this.writes++;
    this.apply(stored);
    return this.local.state;
  }

  async clear(): Promise<boolean> {
    const removed = await this.run('clear the lockdown', () =>
      this.redis.sscLimitsLockdownClear(this.key, this.channel),
    );
    this.writes++;
    this.apply(null);
    return removed === 1;
  }

  onChange(listener: LockdownListener): () => void {
    return this.local.onChange(listener);
  }

  /** Re-reads the flag now (tests; the gateway never needs to). */
  async refresh(): Promise<void> {
    this.watch.request(true);
    await this.watch.idle();
  }

  private async reload(): Promise<void> {
    const writes = this.writes;
    const raw = await this.run('read the lockdown flag', () => this.redis.get(this.key));
    if (writes !== this.writes) {
      // A write of this instance overlapped the read, which may not include it: read again.
      this.watch.request(true);
      return;
    }
    this.apply(raw);
  }

  private apply(raw: string | null): void {
    if (raw === null) {
      this.local.apply(NOT_LOCKED_DOWN);
      return;
    }
    const { state, unreadable } = parseStoredLockdown(raw);
    if (unreadable && raw !== this.reportedRaw) {
      this.reportedRaw = raw;
      this.onError(
        new LimitsError(
          LimitsErrorCode.StoreCorrupt,
          `${this.key} holds no lockdown record; in lockdown (new connections refused) until cleared`,
        ),
      );
    }
    this.local.apply(state);
  }

  private async run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw asLimitsError(what, error);
    }
  }
}
