import {
  parseBanOptions,
  parseBanTarget,
  type BanChange,
  type BanEntry,
  type BanList,
  type BanOptions,
} from './ban-list.js';
import { LocalBans, compileBan, isExpired, storedBan } from './ban-matcher.js';

/** Options of {@link MemoryBanList}. */
export interface MemoryBanListOptions {
  /** Wall clock of `addedAt`, `expiresAt` and matching, in ms. Default `Date.now`. */
  readonly clock?: () => number;
}

/** The bans of a single instance (`SIGNALING_CLUSTER=none`), lost on restart. */
export class MemoryBanList implements BanList {
  readonly backend = 'memory' as const;
  private readonly local = new LocalBans();
  private readonly clock: () => number;

  constructor(options: MemoryBanListOptions = {}) {
    this.clock = options.clock ?? Date.now;
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.local.clearListeners();
  }

  async add(target: string, options?: BanOptions): Promise<BanEntry> {
    const { target: canonical } = parseBanTarget(target);
    const { ttlMs, reason } = parseBanOptions(options);
    const now = this.clock();
    const raw = storedBan({
      addedAt: new Date(now).toISOString(),
      expiresAt: ttlMs === undefined ? null : new Date(now + ttlMs).toISOString(),
      ...(reason !== undefined ? { reason } : {}),
    });
    const record = compileBan(canonical, raw, now);
    // compileBan refuses only what parseBanTarget refused already.
    if (!record) throw new Error(`ban target ${canonical} did not compile`);
    this.local.put(record, now);
    return record.entry;
  }

  async remove(target: string): Promise<boolean> {
    const { target: canonical } = parseBanTarget(target);
    const now = this.clock();
    const record = this.local.get(canonical);
    this.local.delete(canonical, now);
    return record !== undefined && !isExpired(record, now);
  }

  async list(): Promise<readonly BanEntry[]> {
    return this.local.active(this.clock());
  }

  match(ip: string, now = this.clock()): BanEntry | null {
    return this.local.match(ip, now);
  }

  onChange(listener: (change: BanChange) => void): () => void {
    return this.local.onChange(listener);
  }
}
