import { z } from 'zod';
import { LimitsError, LimitsErrorCode } from './limits.errors.js';

/** The cluster's lockdown flag, as every instance sees it. */
export interface LockdownState {
  /** New connections, sessions and joins are refused (4423 / `lockdown`). */
  readonly enabled: boolean;
  /** Existing connections are closed too (4423), not only new ones refused. */
  readonly dropExisting: boolean;
  readonly reason?: string;
  /** The incident it belongs to, if any. */
  readonly incidentId?: string;
  /** When it was first enabled (ISO 8601, UTC); null when not in lockdown (or unreadable). */
  readonly since: string | null;
}

/** Options of {@link Lockdown.set}. */
export interface LockdownOptions {
  /** Close existing connections as well. Default false. */
  readonly dropExisting?: boolean;
  /** Why (1–500 characters). */
  readonly reason?: string;
  /** The incident it belongs to (1–200 characters). */
  readonly incidentId?: string;
}

/** A change of the flag; the gateway drops every connection if `state.dropExisting`. */
export type LockdownListener = (state: LockdownState, previous: LockdownState) => void;

/**
 * One cluster-wide lockdown flag (incident response). Two implementations
 * (lockdown-contract.ts): in memory for a single instance, in Redis for a cluster, where a
 * change reaches every instance within milliseconds by pub/sub (a poll catches lost messages).
 */
export interface Lockdown {
  readonly backend: 'memory' | 'redis';
  /** Loads the flag and starts following changes. Throws `limits_store_unavailable` if it cannot. */
  start(): Promise<void>;
  /** Stops following changes; listeners are dropped. */
  close(): Promise<void>;
  /** The flag as this instance knows it (synchronous: read on every connection and request). */
  state(): LockdownState;
  /**
   * Enables the lockdown, or changes its options if already enabled (`since` is kept). In force on
   * this instance when it resolves. Throws `invalid_option` or `limits_store_unavailable`.
   */
  set(options?: LockdownOptions): Promise<LockdownState>;
  /** Ends the lockdown: false if there was none. */
  clear(): Promise<boolean>;
  /** Calls `listener` after each change of the state. Returns an unsubscribe. */
  onChange(listener: LockdownListener): () => void;
}

export const NOT_LOCKED_DOWN: LockdownState = Object.freeze({
  enabled: false,
  dropExisting: false,
  since: null,
});

export const lockdownOptionsSchema = z.strictObject({
  dropExisting: z.boolean().optional(),
  reason: z.string().min(1).max(500).optional(),
  incidentId: z.string().min(1).max(200).optional(),
});

/** The stored record: `<prefix>lockdown` exists exactly while the lockdown is on. */
const storedLockdownSchema = z.object({
  dropExisting: z.boolean(),
  reason: z.string().min(1).max(500).optional(),
  incidentId: z.string().min(1).max(200).optional(),
  since: z.iso.datetime({ offset: false }),
});

/** Parses {@link LockdownOptions}, or throws {@link LimitsError} (`invalid_option`). */
export function parseLockdownOptions(
  options: LockdownOptions | undefined,
): z.infer<typeof lockdownOptionsSchema> {
  const parsed = lockdownOptionsSchema.safeParse(options ?? {});
  if (!parsed.success) {
    throw new LimitsError(
      LimitsErrorCode.InvalidOption,
      `invalid lockdown options: ${z.prettifyError(parsed.error)}`,
    );
  }
  return parsed.data;
}

/** The state a set leads to from `current` (the memory backend; Redis does it in Lua). */
export function enabledState(
  options: z.infer<typeof lockdownOptionsSchema>,
  current: LockdownState,
  now: number,
): LockdownState {
  return Object.freeze({
    enabled: true,
    dropExisting: options.dropExisting ?? false,
    ...(options.reason !== undefined ? { reason: options.reason } : {}),
    ...(options.incidentId !== undefined ? { incidentId: options.incidentId } : {}),
    since: current.enabled && current.since !== null ? current.since : new Date(now).toISOString(),
  });
}

/**
 * The state of a stored record (its key exists). A record that cannot be read still means
 * lockdown (the key exists): corruption must not lift it. `unreadable` says so, for a report.
 */
export function parseStoredLockdown(raw: string): { state: LockdownState; unreadable: boolean } {
  let parsed: z.infer<typeof storedLockdownSchema> | null = null;
  try {
    const result = storedLockdownSchema.safeParse(JSON.parse(raw));
    if (result.success) parsed = result.data;
  } catch {
    parsed = null;
  }
  if (!parsed) {
    return {
      state: Object.freeze({ enabled: true, dropExisting: false, since: null }),
      unreadable: true,
    };
  }
  return {
    state: Object.freeze({
      enabled: true,
      dropExisting: parsed.dropExisting,
      ...(parsed.reason !== undefined ? { reason: parsed.reason } : {}),
      ...(parsed.incidentId !== undefined ? { incidentId: parsed.incidentId } : {}),
      since: parsed.since,
    }),
    unreadable: false,
  };
}

/** An instance's copy of the flag and its listeners. */
export class LocalLockdown {
  private current: LockdownState = NOT_LOCKED_DOWN;
  private readonly listeners = new Set<LockdownListener>();

  get state(): LockdownState {
    return this.current;
  }

  /** Replaces the state; listeners hear of it if anything differs. */
  apply(next: LockdownState): void {
    const previous = this.current;
    if (sameState(previous, next)) return;
    this.current = next;
    for (const listener of [...this.listeners]) {
      try {
        listener(next, previous);
      } catch {
        // One listener's failure is its own; the others still hear of the change.
      }
    }
  }

  onChange(listener: LockdownListener): () => void {
    const entry: LockdownListener = (state, previous) => listener(state, previous);
    this.listeners.add(entry);
    return () => void this.listeners.delete(entry);
  }

  clearListeners(): void {
    this.listeners.clear();
  }
}

function sameState(a: LockdownState, b: LockdownState): boolean {
  return (
    a.enabled === b.enabled &&
    a.dropExisting === b.dropExisting &&
    a.reason === b.reason &&
    a.incidentId === b.incidentId &&
    a.since === b.since
  );
}
