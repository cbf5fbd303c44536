import {
  LocalLockdown,
  NOT_LOCKED_DOWN,
  enabledState,
  parseLockdownOptions,
  type Lockdown,
  type LockdownListener,
  type LockdownOptions,
  type LockdownState,
} from './lockdown.js';

/** Options of {@link MemoryLockdown}. */
export interface MemoryLockdownOptions {
  /** Wall clock of `since`, in ms. Default `Date.now`. */
  readonly clock?: () => number;
}

/** The lockdown flag of a single instance (`SIGNALING_CLUSTER=none`), lost on restart. */
export class MemoryLockdown implements Lockdown {
  readonly backend = 'memory' as const;
  private readonly local = new LocalLockdown();
  private readonly clock: () => number;

  constructor(options: MemoryLockdownOptions = {}) {
    this.clock = options.clock ?? Date.now;
  }

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.local.clearListeners();
  }

  state(): LockdownState {
    return this.local.state;
  }

  async set(options?: LockdownOptions): Promise<LockdownState> {
    const parsed = parseLockdownOptions(options);
    this.local.apply(enabledState(parsed, this.local.state, this.clock()));
    return this.local.state;
  }

  async clear(): Promise<boolean> {
    const was = this.local.state.enabled;
    this.local.apply(NOT_LOCKED_DOWN);
    return was;
  }

  onChange(listener: LockdownListener): () => void {
    return this.local.onChange(listener);
  }
}
