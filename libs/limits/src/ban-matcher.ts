import { z } from 'zod';
import type { BanChange, BanEntry } from './ban-list.js';
import {
  formatNetwork,
  keyV6,
  maskV4,
  parseAddress,
  parseNetwork,
  unmapped,
  type Network,
} from './ip-address.js';

/** A ban as stored: the JSON value of its target's field (Redis) or map entry (memory). */
const storedBanSchema = z.object({
  expiresAt: z.iso.datetime({ offset: false }).nullable(),
  reason: z.string().min(1).max(500).optional(),
  addedAt: z.iso.datetime({ offset: false }),
});

/** A ban compiled for matching. */
export interface BanRecord {
  readonly entry: BanEntry;
  readonly network: Network;
  readonly expiresAtMs: number | null;
  /** The stored value it came from: an unchanged value is the same ban. */
  readonly raw: string;
  /** The stored value was unreadable: enforced as a ban until removed (fail closed). */
  readonly unreadable: boolean;
}

/** The stored value of a new ban. */
export function storedBan(entry: Omit<BanEntry, 'target'>): string {
  return JSON.stringify({
    expiresAt: entry.expiresAt,
    ...(entry.reason !== undefined ? { reason: entry.reason } : {}),
    addedAt: entry.addedAt,
  });
}

/**
 * Compiles a stored ban. Null if `field` is not a ban target (nothing to enforce). A value that is
 * not a ban record still bans the target, until removed: a corrupted record must not lift a ban.
 */
export function compileBan(field: string, raw: string, seenAt: number): BanRecord | null {
  const parsed = parseNetwork(field);
  if ('error' in parsed) return null;
  const target = formatNetwork(parsed.network);
  let value: z.infer<typeof storedBanSchema> | null = null;
  try {
    const result = storedBanSchema.safeParse(JSON.parse(raw));
    if (result.success) value = result.data;
  } catch {
    value = null;
  }
  if (!value) {
    const entry = { target, addedAt: new Date(seenAt).toISOString(), expiresAt: null };
    return { entry, network: parsed.network, expiresAtMs: null, raw, unreadable: true };
  }
  const entry: BanEntry = {
    target,
    ...(value.reason !== undefined ? { reason: value.reason } : {}),
    addedAt: value.addedAt,
    expiresAt: value.expiresAt,
  };
  const expiresAtMs = value.expiresAt === null ? null : Date.parse(value.expiresAt);
  return { entry, network: parsed.network, expiresAtMs, raw, unreadable: false };
}

export function isExpired(record: BanRecord, now: number): boolean {
  return record.expiresAtMs !== null && record.expiresAtMs <= now;
}

/**
 * The bans of an instance compiled for lookup: per prefix length, a map from network to ban. A
 * lookup masks the address once per prefix length in use (most specific first), so it costs a
 * few map reads however many bans there are. (`net.BlockList` answers only yes or no, cannot
 * drop one rule, and scans its rules one by one; it serves as the oracle of the tests.)
 */
export class BanMatcher {
  private readonly v4 = new Map<number, Map<number, BanRecord>>();
  private readonly v6 = new Map<number, Map<string, BanRecord>>();
  private readonly prefixes4: number[];
  private readonly prefixes6: number[];
  /** IPv6 prefixes of /96 or shorter, which can cover IPv4 addresses (as `::ffff:a.b.c.d`). */
  private readonly prefixes6ForV4: number[];
  readonly size: number;

  constructor(records: Iterable<BanRecord>) {
    let size = 0;
    for (const record of records) {
      size++;
      const n = record.network;
      if (n.family === 4) {
        let byNetwork = this.v4.get(n.prefix);
        if (!byNetwork) this.v4.set(n.prefix, (byNetwork = new Map<number, BanRecord>()));
        byNetwork.set(n.value, record);
      } else {
        let byNetwork = this.v6.get(n.prefix);
        if (!byNetwork) this.v6.set(n.prefix, (byNetwork = new Map<string, BanRecord>()));
        byNetwork.set(keyV6(n.groups, n.prefix), record);
      }
    }
    this.size = size;
    const descending = (a: number, b: number) => b - a;
    this.prefixes4 = [...this.v4.keys()].sort(descending);
    this.prefixes6 = [...this.v6.keys()].sort(descending);
    this.prefixes6ForV4 = this.prefixes6.filter((p) => p <= 96);
  }

  /** The most specific ban in force covering `ip`, or null (also for a non-address). */
  match(ip: string, now: number): BanRecord | null {
    if (this.size === 0) return null;
    const parsed = parseAddress(ip);
    if (!parsed) return null;
    const address = unmapped(parsed);
    if (address.family === 4) {
      for (const prefix of this.prefixes4) {
        const record = this.v4.get(prefix)?.get((address.value & maskV4(prefix)) >>> 0);
        if (record && !isExpired(record, now)) return record;
      }
      if (this.prefixes6ForV4.length === 0) return null;
      const v = address.value;
      const mapped = [0, 0, 0, 0, 0, 0xffff, v >>> 16, v & 0xffff];
      return this.matchV6(mapped, this.prefixes6ForV4, now);
    }
    return this.matchV6(address.groups, this.prefixes6, now);
  }

  private matchV6(groups: readonly number[], prefixes: number[], now: number): BanRecord | null {
    for (const prefix of prefixes) {
      const record = this.v6.get(prefix)?.get(keyV6(groups, prefix));
      if (record && !isExpired(record, now)) return record;
    }
    return null;
  }
}

/**
 * An instance's copy of the bans: replaced by a reload or changed by a write, it recompiles the
 * matcher and tells the listeners what was added and removed.
 */
export class LocalBans {
  private records = new Map<string, BanRecord>();
  private matcher = new BanMatcher([]);
  private readonly listeners = new Set<(change: BanChange) => void>();

  /** Replaces every ban (a reload); a ban whose stored value did not change is kept as is. */
  replace(next: ReadonlyMap<string, BanRecord>, now: number): void {
    const merged = new Map<string, BanRecord>();
    for (const [target, record] of next) {
      const previous = this.records.get(target);
      merged.set(target, previous?.raw === record.raw ? previous : record);
    }
    this.commit(merged, now);
  }

  /** Adds or replaces one ban (a local write). */
  put(record: BanRecord, now: number): void {
    const next = new Map(this.records);
    next.set(record.entry.target, record);
    this.commit(next, now);
  }

  /** Drops one ban (a local write). */
  delete(target: string, now: number): void {
    if (!this.records.has(target)) return;
    const next = new Map(this.records);
    next.delete(target);
    this.commit(next, now);
  }

  get(target: string): BanRecord | undefined {
    return this.records.get(target);
  }

  match(ip: string, now: number): BanEntry | null {
    return this.matcher.match(ip, now)?.entry ?? null;
  }

  /** The bans in force, most recently added first. */
  active(now: number): BanEntry[] {
    return [...this.records.values()]
      .filter((r) => !isExpired(r, now))
      .map((r) => r.entry)
      .sort((a, b) => b.addedAt.localeCompare(a.addedAt) || a.target.localeCompare(b.target));
  }

  /** Bans past their expiry, still held (to purge). */
  expired(now: number): BanRecord[] {
    return [...this.records.values()].filter((r) => isExpired(r, now));
  }

  onChange(listener: (change: BanChange) => void): () => void {
    const entry = (change: BanChange) => listener(change);
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }

  clearListeners(): void {
    this.listeners.clear();
  }

  private commit(next: Map<string, BanRecord>, now: number): void {
    const before = this.records;
    // Expired bans are dropped here: they no longer match, and this bounds the copy's size.
    for (const [target, record] of next) if (isExpired(record, now)) next.delete(target);
    const added: BanEntry[] = [];
    const removed: BanEntry[] = [];
    for (const [target, record] of next) {
      if (before.get(target) !== record) added.push(record.entry);
    }
    for (const [target, record] of before) {
      const after = next.get(target);
      if (after === undefined) removed.push(record.entry);
    }
    this.records = next;
    this.matcher = new BanMatcher(next.values());
    if (added.length === 0 && removed.length === 0) return;
    const change: BanChange = { added, removed };
    for (const listener of [...this.listeners]) {
      try {
        listener(change);
      } catch {
        // One listener's failure is its own; the others still hear of the change.
      }
    }
  }
}
