/**
 * Counts failed authentications per client address in a sliding minute; an address that reaches
 * the limit is refused (429) for a minute without its key being looked at, which makes guessing
 * API keys from one address pointless. Per process: behind a load balancer each instance counts
 * its own share, so the effective limit is at most limit × instances.
 */
export class AuthThrottle {
  private readonly failures = new Map<string, number[]>();
  private readonly blocked = new Map<string, number>();

  constructor(
    private readonly limitPerMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `ip` may try again, or 0 when it may try now. */
  retryAfterMs(ip: string): number {
    const until = this.blocked.get(ip);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left > 0) return left;
    this.blocked.delete(ip);
    return 0;
  }

  /** Records a failure; true when this failure starts a block (record it once, not per request). */
  fail(ip: string): boolean {
    const now = this.now();
    const recent = (this.failures.get(ip) ?? []).filter((t) => now - t < 60_000);
    recent.push(now);
    this.failures.set(ip, recent);
    if (recent.length >= this.limitPerMinute) {
      this.failures.delete(ip);
      this.blocked.set(ip, now + 60_000);
      return true;
    }
    if (this.failures.size + this.blocked.size > 100_000) this.prune(now);
    return false;
  }

  private prune(now: number): void {
    for (const [ip, times] of this.failures) {
      if (times.every((t) => now - t >= 60_000)) this.failures.delete(ip);
    }
    for (const [ip, until] of this.blocked) if (until <= now) this.blocked.delete(ip);
  }
}
