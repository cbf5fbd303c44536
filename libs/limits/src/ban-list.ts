import { z } from 'zod';
import { formatNetwork, parseNetwork, type Network } from './ip-address.js';
import { LimitsError, LimitsErrorCode } from './limits.errors.js';

/** One ban, as listed and as returned by a match. */
export interface BanEntry {
  /**
   * The banned address or CIDR in canonical form: IPv6 per RFC 5952, IPv4-mapped IPv6 as IPv4,
   * `/32` and `/128` as the bare address (`::FFFF:192.0.2.1/128` is `192.0.2.1`).
   */
  readonly target: string;
  /** Why, for operators and the audit trail. */
  readonly reason?: string;
  /** When it was added (ISO 8601, UTC). */
  readonly addedAt: string;
  /** When it stops applying (ISO 8601, UTC); null: until removed. */
  readonly expiresAt: string | null;
}

/** Options of {@link BanList.add}. */
export interface BanOptions {
  /** How long the ban lasts, 1 ms to 10 years. Default: until removed. */
  readonly ttlMs?: number;
  /** Why (1–500 characters). */
  readonly reason?: string;
}

/** What a reload or a write changed; the gateway drops the connections `added` now covers. */
export interface BanChange {
  /** Bans new to this instance, or changed (re-added with another TTL or reason). */
  readonly added: readonly BanEntry[];
  /** Bans removed, or found expired. */
  readonly removed: readonly BanEntry[];
}

/**
 * The bans of client addresses and networks that every gateway instance enforces. Two
 * implementations (ban-list-contract.ts): in memory for a single instance, in Redis for a
 * cluster. {@link match} is synchronous and cheap (it runs on every connection) and reads the
 * instance's compiled copy; the Redis one keeps that copy in step within milliseconds.
 */
export interface BanList {
  readonly backend: 'memory' | 'redis';
  /** Loads the bans and starts following changes. Throws `limits_store_unavailable` if it cannot. */
  start(): Promise<void>;
  /** Stops following changes; listeners are dropped. */
  close(): Promise<void>;
  /**
   * Bans `target` (an address or CIDR; host bits after the prefix refused), replacing any ban of
   * the same target. Effective on this instance when it resolves. Throws `invalid_ban_target`,
   * `invalid_option` or `limits_store_unavailable`.
   */
  add(target: string, options?: BanOptions): Promise<BanEntry>;
  /** Lifts the ban of exactly `target` (not of the addresses inside it): false if there was none. */
  remove(target: string): Promise<boolean>;
  /** The bans in force (not expired), most recently added first. */
  list(): Promise<readonly BanEntry[]>;
  /**
   * The ban covering `ip` (IPv4, IPv6 or IPv4-mapped), the most specific one if several do, or
   * null. An expired ban stops matching at its `expiresAt`, whether purged yet or not.
   */
  match(ip: string, now?: number): BanEntry | null;
  /** Calls `listener` after each change that added or removed bans. Returns an unsubscribe. */
  onChange(listener: (change: BanChange) => void): () => void;
}

const TEN_YEARS_MS = 10 * 366 * 24 * 3600 * 1000;

/** A ban target: an IPv4/IPv6 address or CIDR, parsed into its canonical network. */
export const banTargetSchema = z
  .string()
  .max(64)
  .transform((text, ctx) => {
    const parsed = parseNetwork(text.trim());
    if ('error' in parsed) {
      ctx.issues.push({ code: 'custom', input: text, message: parsed.error });
      return z.NEVER;
    }
    return parsed.network;
  });

export const banOptionsSchema = z.strictObject({
  ttlMs: z.int().min(1).max(TEN_YEARS_MS).optional(),
  reason: z.string().min(1).max(500).optional(),
});

/** Parses a ban target, or throws {@link LimitsError} (`invalid_ban_target`). */
export function parseBanTarget(target: string): { network: Network; target: string } {
  const parsed = banTargetSchema.safeParse(target);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => i.message).join('; ');
    throw new LimitsError(
      LimitsErrorCode.InvalidBanTarget,
      `ban target ${JSON.stringify(String(target).slice(0, 80))} is not an IPv4/IPv6 address or CIDR: ${why}`,
    );
  }
  return { network: parsed.data, target: formatNetwork(parsed.data) };
}

/** Parses {@link BanOptions}, or throws {@link LimitsError} (`invalid_option`). */
export function parseBanOptions(options: BanOptions | undefined): z.infer<typeof banOptionsSchema> {
  const parsed = banOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    throw new LimitsError(
      LimitsErrorCode.InvalidOption,
      `invalid ban options: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}
