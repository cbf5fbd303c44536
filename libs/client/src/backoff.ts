/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms. Default 250. */
  readonly initialDelayMs?: number;
  /** Longest delay, in ms. Default 10 000. */
  readonly maxDelayMs?: number;
  /** Growth per attempt. Default 2. */
  readonly factor?: number;
  /**
   * Share of each delay that is random, 0–1. Default 0.5: a delay is between half and all of the
   * exponential value, so clients dropped together (a gateway restart) do not return together.
   */
  readonly jitter?: number;
  /** Random source in [0, 1). Default `Math.random`. */
  readonly random?: () => number;
}

/** Exponential backoff with jitter: the delays between reconnection attempts. */
export class Backoff {
  private attempt = 0;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly factor: number;
  private readonly jitter: number;
  private readonly random: () => number;

  constructor(options: BackoffOptions = {}) {
    this.initialDelayMs = options.initialDelayMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 10_000;
    this.factor = options.factor ?? 2;
    this.jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
    this.random = options.random ?? Math.random;
    if (!(this.initialDelayMs >= 0) || !(this.maxDelayMs >= this.initialDelayMs)) {
      throw new RangeError('backoff needs 0 <= initialDelayMs <= maxDelayMs');
    }
    if (!(this.factor >= 1)) throw new RangeError('backoff factor must be at least 1');
  }

  /** Attempts made since the last {@link reset}. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, in whole ms; counts the attempt. */
  next(): number {
    const exponential = Math.min(
      this.maxDelayMs,
      this.initialDelayMs * Math.pow(this.factor, this.attempt),
    );
    this.attempt++;
    return Math.round(exponential * (1 - this.jitter * this.random()));
  }

  /** After a success: the next delay is the initial one again. */
  reset(): void {
    this.attempt = 0;
  }
}
