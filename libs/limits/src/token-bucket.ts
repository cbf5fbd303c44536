import { LimitsError, LimitsErrorCode } from './limits.errors.js';

/** How many refusals in one flood, in bursts, make a connection a flooder (closed 4429). */
export const FLOOD_FACTOR = 10;

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second (`SIGNALING_MESSAGE_RATE`). */
  readonly rate: number;
  /** Capacity, and the tokens it starts with (`SIGNALING_MESSAGE_BURST`). */
  readonly burst: number;
  /** Refusals in one flood that make {@link TokenBucket.flooding} true. Default 10 × `burst`. */
  readonly floodAfter?: number;
}

/**
 * A connection's message allowance: `burst` messages at once, `rate` per second on average.
 * O(1) per message, no timers: tokens are added for the time elapsed when one is taken. Times
 * are milliseconds of a monotonic clock (`performance.now()`).
 *
 * Refusals are counted per flood: a flood starts with a refusal and ends once the bucket has
 * filled up again, i.e. the client stayed within the rate for `burst / rate` seconds. A client
 * that backs off when told `rate_limited` starts afresh; one that keeps sending beyond the rate
 * keeps adding to the count, however much it sends in between, until {@link flooding} (10 × the
 * burst refused, by default) tells the gateway to close it with 4429. At 100/s and a burst of
 * 400 that is 4000 refusals: after 40 s at twice the rate, or at once under a blast.
 */
export class TokenBucket {
  readonly rate: number;
  readonly burst: number;
  readonly floodAfter: number;
  private tokens: number;
  private last: number;
  private refusedInFlood = 0;
  private refusedAll = 0;

  constructor(options: TokenBucketOptions, now = performance.now()) {
    const { rate, burst } = options;
    const floodAfter = options.floodAfter ?? FLOOD_FACTOR * burst;
    if (!(rate > 0 && Number.isFinite(rate)) || !(burst >= 1 && Number.isFinite(burst))) {
      throw new LimitsError(
        LimitsErrorCode.InvalidOption,
        `a token bucket needs a positive rate and a burst of at least 1 (got ${rate}, ${burst})`,
      );
    }
    if (!(floodAfter >= 1)) {
      throw new LimitsError(LimitsErrorCode.InvalidOption, 'floodAfter must be at least 1');
    }
    this.rate = rate;
    this.burst = burst;
    this.floodAfter = floodAfter;
    this.tokens = burst;
    this.last = now;
  }

  /** Takes a token if there is one: true to handle the message, false to refuse it. */
  take(now = performance.now()): boolean {
    this.refill(now);
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.refusedInFlood++;
    this.refusedAll++;
    return false;
  }

  /** Whole tokens available now (for tests and diagnostics). */
  available(now = performance.now()): number {
    this.refill(now);
    return Math.floor(this.tokens);
  }

  /** Refusals since the bucket was last full (the current flood); 0 when there is none. */
  get refused(): number {
    return this.refusedInFlood;
  }

  /** Refusals over the bucket's life. */
  get refusedTotal(): number {
    return this.refusedAll;
  }

  /** The current flood reached `floodAfter` refusals: close the connection (4429). */
  get flooding(): boolean {
    return this.refusedInFlood >= this.floodAfter;
  }

  private refill(now: number): void {
    // A clock that steps back adds nothing rather than taking tokens away.
    const elapsed = now - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.rate) / 1000);
      this.last = now;
    }
    if (this.tokens >= this.burst) this.refusedInFlood = 0;
  }
}
