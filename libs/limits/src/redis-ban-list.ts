import type { Redis } from 'ioredis';
import {
  parseBanOptions,
  parseBanTarget,
  type BanChange,
  type BanEntry,
  type BanList,
  type BanOptions,
} from './ban-list.js';
import { LocalBans, compileBan, isExpired, storedBan, type BanRecord } from './ban-matcher.js';
import { LimitsError, LimitsErrorCode, asLimitsError } from './limits.errors.js';
import { RedisWatch } from './redis-watch.js';

/** Options of {@link RedisBanList}. */
export interface RedisBanListOptions {
  /**
   * The connection commands are sent on (fail-fast settings are fine). The caller owns it and
   * connects it before {@link RedisBanList.start}; changes are followed on a `duplicate()`.
   */
  readonly client: Redis;
  /**
   * Prefix of the keys: the hash `<prefix>bans` (target → JSON `{expiresAt, reason?, addedAt}`),
   * the counter `<prefix>bans:version` and the channel `<prefix>bans:changed`. Default `sscontrol:`.
   */
  readonly prefix?: string;
  /** How often the version is polled, to catch a lost change message. Default 2000 ms. */
  readonly pollMs?: number;
  /** How often the whole hash is re-read even if the version did not move. Default 30 000 ms. */
  readonly fullReloadMs?: number;
  /** Wall clock of `addedAt`, `expiresAt` and matching, in ms. Default `Date.now`. */
  readonly clock?: () => number;
  /**
   * A background reload failed (the last loaded bans stay in force), or the hash holds a field
   * that is no ban target or a value that is no ban record (enforced until removed). Each is
   * reported once. Default: ignored.
   */
  readonly onError?: (error: LimitsError) => void;
}

// Every write bumps the version and announces the target, in one step.
// KEYS: hash version; ARGV: target value channel
const ADD = `redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], ARGV[1])
return 1`;
// KEYS: hash version; ARGV: target channel. Returns the removed value, or nil.
const REMOVE = `local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return nil end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[2], ARGV[1])
return old`;
// KEYS: hash version. Returns {version, {field, value, ...}} from one moment.
const LOAD = `return {redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[1])}`;
// Deletes expired bans, but only if unchanged since read (a ban re-added meanwhile stays).
// No version bump: expired bans match nowhere already. KEYS: hash; ARGV: target value ...
const PURGE = `local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    n = n + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return n`;

interface Scripted extends Redis {
  sscLimitsBanAdd(
    hash: string,
    version: string,
    target: string,
    value: string,
    channel: string,
  ): Promise<number>;
  sscLimitsBanRemove(
    hash: string,
    version: string,
    target: string,
    channel: string,
  ): Promise<string | null>;
  sscLimitsBanLoad(hash: string, version: string): Promise<[string, string[]]>;
  sscLimitsBanPurge(hash: string, ...pairs: string[]): Promise<number>;
}

/**
 * The bans of a cluster (`SIGNALING_CLUSTER=redis`), shared by every gateway instance and the
 * control plane. Each instance matches against its own compiled copy, reloaded on a change
 * message (within milliseconds), when the version counter moved (polled every 2 s, in case the
 * message was lost), and in full every 30 s (in case the hash was edited by hand). A reload that
 * finds expired bans purges them.
 */
export class RedisBanList implements BanList {
  readonly backend = 'redis' as const;
  private readonly redis: Scripted;
  private readonly hash: string;
  private readonly versionKey: string;
  private readonly channel: string;
  private readonly clock: () => number;
  private readonly fullReloadMs: number;
  private readonly onError: (error: LimitsError) => void;
  private readonly local = new LocalBans();
  private readonly watch: RedisWatch;
  private readonly reported = new Set<string>();
  private version: string | null = null;
  private lastFullReload = -Infinity;
  /** Local writes so far: a reload that overlapped one may predate it and is redone. */
  private writes = 0;
  private started = false;

  constructor(options: RedisBanListOptions) {
    const prefix = options.prefix ?? 'sscontrol:';
    this.hash = `${prefix}bans`;
    this.versionKey = `${prefix}bans:version`;
    this.channel = `${prefix}bans:changed`;
    this.clock = options.clock ?? Date.now;
    this.fullReloadMs = options.fullReloadMs ?? 30_000;
    this.onError = options.onError ?? (() => undefined);
    const scripts = {
      sscLimitsBanAdd: [2, ADD],
      sscLimitsBanRemove: [2, REMOVE],
      sscLimitsBanLoad: [2, LOAD],
      sscLimitsBanPurge: [1, PURGE],
    } as const;
    for (const [name, [numberOfKeys, lua]] of Object.entries(scripts)) {
      if (!(name in options.client)) options.client.defineCommand(name, { numberOfKeys, lua });
    }
    this.redis = options.client as Scripted;
    this.watch = new RedisWatch({
      client: options.client,
      channel: this.channel,
      pollMs: options.pollMs ?? 2000,
      reload: (full) => this.reload(full),
      onError: (error) => this.onError(asLimitsError('reload the bans', error)),
    });
  }

  async start(): Promise<void> {
    if (this.started) return;
    await this.reload(true);
    this.started = true;
    this.watch.start();
  }

  async close(): Promise<void> {
    await this.watch.close();
    this.local.clearListeners();
  }

  async add(target: string, options?: BanOptions): Promise<BanEntry> {
    const { target: canonical } = parseBanTarget(target);
    const { ttlMs, reason } = parseBanOptions(options);
    const now = this.clock();
    const value = storedBan({
      addedAt: new Date(now).toISOString(),
      expiresAt: ttlMs === undefined ? null : new Date(now + ttlMs).toISOString(),
      ...(reason !== undefined ? { reason } : {}),
    });
    await this.run('add a ban', () =>
      this.redis.sscLimitsBanAdd(this.hash, this.versionKey, canonical, value, this.channel),
    );
    this.writes++;
    const record = compileBan(canonical, value, now);
    // compileBan refuses only what parseBanTarget refused already.
    if (!record) throw new Error(`ban target ${canonical} did not compile`);
    this.local.put(record, now);
    return record.entry;
  }

  async remove(target: string): Promise<boolean> {
    const { target: canonical } = parseBanTarget(target);
    const old = await this.run('remove a ban', () =>
      this.redis.sscLimitsBanRemove(this.hash, this.versionKey, canonical, this.channel),
    );
    this.writes++;
    const now = this.clock();
    this.local.delete(canonical, now);
    if (old === null) return false;
    const record = compileBan(canonical, old, now);
    return record !== null && !isExpired(record, now);
  }

  async list(): Promise<readonly BanEntry[]> {
    const now = this.clock();
    const { records } = await this.load(now);
    const view = new LocalBans();
    view.replace(records, now);
    return view.active(now);
  }

  match(ip: string, now = this.clock()): BanEntry | null {
    return this.local.match(ip, now);
  }

  onChange(listener: (change: BanChange) => void): () => void {
    return this.local.onChange(listener);
  }

  /** Re-reads the bans now (tests; the gateway never needs to). */
  async refresh(): Promise<void> {
    this.watch.request(true);
    await this.watch.idle();
  }

  private async reload(full: boolean): Promise<void> {
    const now = this.clock();
    if (!full && now - this.lastFullReload < this.fullReloadMs && this.version !== null) {
      const version = await this.run('read the ban version', () => this.redis.get(this.versionKey));
      if ((version ?? '0') === this.version) return;
    }
    const writes = this.writes;
    const { version, records, expired } = await this.load(now);
    if (expired.length > 0) {
      await this.run('purge expired bans', () =>
        this.redis.sscLimitsBanPurge(this.hash, ...expired.flatMap((r) => [r.entry.target, r.raw])),
      ).catch((error: unknown) => this.onError(asLimitsError('purge expired bans', error)));
    }
    if (writes !== this.writes) {
      // A write of this instance overlapped the read, which may not include it: read again.
      this.watch.request(true);
      return;
    }
    this.local.replace(records, now);
    this.version = version;
    this.lastFullReload = now;
  }

  private async load(
    now: number,
  ): Promise<{ version: string; records: Map<string, BanRecord>; expired: BanRecord[] }> {
    const [version, flat] = await this.run('read the bans', () =>
      this.redis.sscLimitsBanLoad(this.hash, this.versionKey),
    );
    const records = new Map<string, BanRecord>();
    const expired: BanRecord[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = flat[i] ?? '';
      const value = flat[i + 1] ?? '';
      const record = compileBan(field, value, now);
      if (!record) {
        this.reportOnce(
          `field:${field}`,
          `the ban hash ${this.hash} has a field that is no address or CIDR, ignored: ${JSON.stringify(field.slice(0, 80))}`,
        );
        continue;
      }
      if (record.unreadable) {
        this.reportOnce(
          `value:${field}:${value}`,
          `the ban of ${record.entry.target} in ${this.hash} is not a ban record; enforced until removed`,
        );
      }
      if (isExpired(record, now)) {
        expired.push(record);
        continue;
      }
      records.set(record.entry.target, record);
    }
    return { version, records, expired };
  }

  private reportOnce(key: string, message: string): void {
    if (this.reported.has(key)) return;
    // Bounded: a hash full of junk is reported again rather than remembered forever.
    if (this.reported.size >= 1000) this.reported.clear();
    this.reported.add(key);
    this.onError(new LimitsError(LimitsErrorCode.StoreCorrupt, message));
  }

  private async run<T>(what: string, command: () => Promise<T>): Promise<T> {
    try {
      return await command();
    } catch (error) {
      throw asLimitsError(what, error);
    }
  }
}
