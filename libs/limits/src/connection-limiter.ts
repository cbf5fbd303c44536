import { isIP } from 'node:net';
import { formatAddress, maskV6, parseAddress, unmapped } from './ip-address.js';
import { LimitsError, LimitsErrorCode } from './limits.errors.js';

/** Options of {@link ConnectionLimiter}; the first three are the `SIGNALING_*` settings. */
export interface ConnectionLimits {
  /** Open connections one client address may hold (`SIGNALING_CONNECTIONS_PER_IP`). */
  readonly connectionsPerIp: number;
  /** New connections per minute from one address (`SIGNALING_CONNECTION_RATE_PER_IP`). */
  readonly connectionRatePerIp: number;
  /** Open connections in all (`SIGNALING_MAX_CONNECTIONS`). */
  readonly maxConnections: number;
  /**
   * IPv6 clients are counted per network of this prefix length, since one subscriber usually holds
   * a whole /64 and could otherwise open `connectionsPerIp` from each of 2^64 addresses. 128 counts
   * each address. Default 64.
   */
  readonly ipv6Prefix?: number;
  /**
   * Idle addresses (no open connection) remembered for their connection rate; beyond it the least
   * recently seen are forgotten first. Addresses with open connections are always kept (at most
   * `maxConnections`). Default 100 000 (about 17 MB).
   */
  readonly maxTrackedAddresses?: number;
}

export type ConnectionLimit = 'connection_rate' | 'concurrent_connections';

/** The outcome of {@link ConnectionLimiter.tryOpen}. */
export type OpenOutcome =
  | {
      readonly ok: true;
      /** The connection closed: frees its place. Idempotent. */
      release(): void;
    }
  | {
      readonly ok: false;
      readonly limit: ConnectionLimit;
      /** Whether the address's own limit or the instance's was reached. */
      readonly scope: 'ip' | 'instance';
      /**
       * This address (or, for `instance`, any address) was already refused in the current minute:
       * a caller may record only the first refusal so that a flood of attempts is not a flood of
       * audit events.
       */
      readonly repeat: boolean;
    };

/** The rate is counted over one minute, as two fixed windows weighted into a sliding one. */
const WINDOW_MS = 60_000;
/** Entries examined on each call, so that forgetting keeps pace with learning. */
const SWEEP_STEPS = 4;

interface Entry {
  /** Open connections. */
  open: number;
  /** Index of the current window (time / WINDOW_MS). */
  window: number;
  /** Admitted in the current window, and in the one before. */
  current: number;
  previous: number;
  /** Window of the last refusal (for `repeat`); -1 none. */
  refusedIn: number;
}

/**
 * One instance's admission of new connections: `connectionsPerIp` open and
 * `connectionRatePerIp` new per minute for each client address, `maxConnections` open in all.
 * Synchronous and O(1) amortised per call; memory is bounded by `maxTrackedAddresses` plus one
 * entry per address holding a connection, however many addresses a scan uses. Only admitted
 * connections count toward the rate: a refused attempt costs the client nothing but the wait.
 *
 * The rate is a sliding minute estimated from two fixed windows (the previous window's count
 * weighted by how much of it still overlaps the last 60 s): smooth, and never more than the limit
 * in any minute by more than the estimate's rounding. Times are a monotonic clock's milliseconds.
 */
export class ConnectionLimiter {
  private readonly entries = new Map<string, Entry>();
  private readonly ipv6Prefix: number;
  private readonly maxTracked: number;
  private hand: MapIterator<[string, Entry]> = this.entries.entries();
  private openCount = 0;
  private instanceRefusedIn = -1;

  constructor(private readonly limits: ConnectionLimits) {
    this.ipv6Prefix = limits.ipv6Prefix ?? 64;
    this.maxTracked = limits.maxTrackedAddresses ?? 100_000;
    const positive = (n: number) => Number.isInteger(n) && n >= 1;
    if (
      !positive(limits.connectionsPerIp) ||
      !positive(limits.connectionRatePerIp) ||
      !positive(limits.maxConnections) ||
      !positive(this.maxTracked) ||
      !(Number.isInteger(this.ipv6Prefix) && this.ipv6Prefix >= 1 && this.ipv6Prefix <= 128)
    ) {
      throw new LimitsError(
        LimitsErrorCode.InvalidOption,
        'connection limits must be positive integers, and ipv6Prefix 1 to 128',
      );
    }
  }

  /** Open connections admitted and not yet released. */
  get open(): number {
    return this.openCount;
  }

  /** Addresses remembered now (for the memory bound's tests and a gauge). */
  get trackedAddresses(): number {
    return this.entries.size;
  }

  /** Open connections of the address (or its IPv6 network). */
  openFor(ip: string): number {
    return this.entries.get(this.keyOf(ip))?.open ?? 0;
  }

  /** Admits a new connection from `ip` (a canonical client address) or says which limit it hit. */
  tryOpen(ip: string, now = performance.now()): OpenOutcome {
    const window = Math.floor(now / WINDOW_MS);
    this.sweep(window);
    if (this.openCount >= this.limits.maxConnections) {
      const repeat = this.instanceRefusedIn === window;
      this.instanceRefusedIn = window;
      return { ok: false, limit: 'concurrent_connections', scope: 'instance', repeat };
    }
    const key = this.keyOf(ip);
    let entry = this.entries.get(key);
    if (entry) {
      // Most recently seen last: the clock hand meets the least recently seen first.
      this.entries.delete(key);
    } else {
      entry = { open: 0, window, current: 0, previous: 0, refusedIn: -1 };
    }
    this.entries.set(key, entry);
    roll(entry, window);
    const limit =
      entry.open >= this.limits.connectionsPerIp
        ? 'concurrent_connections'
        : estimate(entry, now) + 1 > this.limits.connectionRatePerIp
          ? 'connection_rate'
          : null;
    if (limit) {
      const repeat = entry.refusedIn === window;
      entry.refusedIn = window;
      this.enforceCap(key);
      return { ok: false, limit, scope: 'ip', repeat };
    }
    entry.open++;
    entry.current++;
    this.openCount++;
    this.enforceCap(key);
    const admitted = entry;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        admitted.open--;
        this.openCount--;
      },
    };
  }

  private keyOf(ip: string): string {
    // Dotted-quad text that isIP accepts is canonical already (no leading zeros): the common case.
    if (isIP(ip) === 4) return ip;
    const parsed = parseAddress(ip);
    if (!parsed) return ip;
    const address = unmapped(parsed);
    if (address.family === 4 || this.ipv6Prefix === 128) return formatAddress(address);
    return `${formatAddress({ family: 6, groups: maskV6(address.groups, this.ipv6Prefix) })}/${this.ipv6Prefix}`;
  }

  /**
   * The next entry under the clock hand: a long-lived iterator over the map, restarted at its end.
   * (A fresh iterator per call would be O(n): V8 keeps deleted slots at the front of a Map until
   * it rehashes, and each fresh iterator walks past them.) Recently seen entries were moved to
   * the end, so the hand meets the least recently seen first.
   */
  private nextEntry(): [string, Entry] | null {
    let step = this.hand.next();
    if (step.done) {
      this.hand = this.entries.entries();
      step = this.hand.next();
    }
    return step.done ? null : step.value;
  }

  /** Forgets, a few per call, addresses whose rate windows have both passed. */
  private sweep(window: number): void {
    for (let i = 0; i < SWEEP_STEPS && this.entries.size > 0; i++) {
      const next = this.nextEntry();
      if (!next) return;
      const [key, entry] = next;
      if (entry.open === 0 && window - entry.window >= 2) this.entries.delete(key);
    }
  }

  /** Over the cap, forgets idle addresses under the hand, even with a recent rate (not `keep`). */
  private enforceCap(keep: string): void {
    let steps = this.entries.size;
    while (this.entries.size > this.maxTracked && steps-- > 0) {
      const next = this.nextEntry();
      if (!next) return;
      const [key, entry] = next;
      if (entry.open === 0 && key !== keep) this.entries.delete(key);
    }
  }
}

function roll(entry: Entry, window: number): void {
  // A window before the entry's (a clock that stepped back) counts as the entry's own.
  if (window <= entry.window) return;
  entry.previous = window === entry.window + 1 ? entry.current : 0;
  entry.current = 0;
  entry.window = window;
}

/** Connections admitted in the last minute, estimated. */
function estimate(entry: Entry, now: number): number {
  const into = (now - entry.window * WINDOW_MS) / WINDOW_MS;
  return entry.previous * (1 - into) + entry.current;
}
