import { LimitsErrorCode } from './limits.errors.js';
import { FLOOD_FACTOR, TokenBucket } from './token-bucket.js';

/** Takes `n` tokens at `now`; returns how many were granted. */
function takeMany(bucket: TokenBucket, n: number, now: number): number {
  let granted = 0;
  for (let i = 0; i < n; i++) if (bucket.take(now)) granted++;
  return granted;
}

describe('TokenBucket', () => {
  it('grants a full burst at once, then refuses', () => {
    const bucket = new TokenBucket({ rate: 100, burst: 400 }, 0);
    expect(takeMany(bucket, 400, 0)).toBe(400);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.refused).toBe(1);
  });

  it('refills at the rate, up to the burst', () => {
    const bucket = new TokenBucket({ rate: 100, burst: 400 }, 0);
    takeMany(bucket, 400, 0);
    // 100/s: one token per 10 ms.
    expect(bucket.take(9)).toBe(false);
    expect(bucket.take(10)).toBe(true);
    expect(bucket.take(10)).toBe(false);
    expect(bucket.available(1010)).toBe(100);
    expect(bucket.available(60_000)).toBe(400);
  });

  it('holds a sender at the rate on average over a long run', () => {
    const bucket = new TokenBucket({ rate: 50, burst: 10 }, 0);
    // Offers 200/s for 10 s: at most burst + rate × 10 s get through.
    let granted = 0;
    for (let t = 0; t <= 10_000; t += 5) if (bucket.take(t)) granted++;
    expect(granted).toBe(10 + 500);
  });

  it('adds nothing when the clock steps back', () => {
    const bucket = new TokenBucket({ rate: 1, burst: 1 }, 1000);
    expect(bucket.take(1000)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(1999)).toBe(false);
    expect(bucket.take(2000)).toBe(true);
  });

  describe('floods', () => {
    it('counts refusals until the bucket has filled up again', () => {
      const bucket = new TokenBucket({ rate: 10, burst: 5 }, 0);
      takeMany(bucket, 8, 0);
      expect(bucket.refused).toBe(3);
      // Half a second of quiet refills 5 tokens: the bucket is full, the flood is over.
      expect(bucket.available(500)).toBe(5);
      expect(bucket.refused).toBe(0);
      expect(bucket.refusedTotal).toBe(3);
    });

    it('calls a client that backs off after a refusal no flooder, however long it lives', () => {
      const bucket = new TokenBucket({ rate: 10, burst: 5 }, 0);
      for (let second = 0; second < 1000; second++) takeMany(bucket, 8, second * 1000);
      expect(bucket.refusedTotal).toBe(3000);
      expect(bucket.flooding).toBe(false);
    });

    it('calls a client that keeps sending at twice the rate a flooder once 10 × burst are refused', () => {
      const rate = 100;
      const burst = 400;
      const bucket = new TokenBucket({ rate, burst }, 0);
      let t = 0;
      // Two messages every token interval (10 ms): one granted, one refused, and never idle.
      while (!bucket.flooding && t < 120_000) {
        bucket.take(t);
        bucket.take(t);
        t += 10;
      }
      expect(bucket.flooding).toBe(true);
      expect(bucket.refused).toBe(FLOOD_FACTOR * burst);
      // The burst drains at one token per 10 ms (4 s), then one refusal per 10 ms: 40 s more.
      expect(t).toBeGreaterThan(43_000);
      expect(t).toBeLessThan(45_000);
    });

    it('calls a blast of 10 × burst refused messages a flood at once', () => {
      const bucket = new TokenBucket({ rate: 100, burst: 400 }, 0);
      takeMany(bucket, 400 + 3999, 0);
      expect(bucket.flooding).toBe(false);
      bucket.take(0);
      expect(bucket.flooding).toBe(true);
    });

    it('takes floodAfter as given', () => {
      const bucket = new TokenBucket({ rate: 1, burst: 1, floodAfter: 2 }, 0);
      takeMany(bucket, 2, 0);
      expect(bucket.flooding).toBe(false);
      bucket.take(0);
      expect(bucket.flooding).toBe(true);
    });
  });

  it.each([
    { rate: 0, burst: 1 },
    { rate: -1, burst: 1 },
    { rate: Number.NaN, burst: 1 },
    { rate: 1, burst: 0 },
    { rate: 1, burst: Number.POSITIVE_INFINITY },
    { rate: 1, burst: 1, floodAfter: 0 },
  ])('refuses %j', (options) => {
    expect(() => new TokenBucket(options)).toThrow(
      expect.objectContaining({ code: LimitsErrorCode.InvalidOption }),
    );
  });

  it('costs O(1) per message', () => {
    const bucket = new TokenBucket({ rate: 1e5, burst: 1e6 });
    const start = performance.now();
    for (let i = 0; i < 1_000_000; i++) bucket.take(i / 1000);
    // A million takes well under a second even on a slow CI machine (about 10 ms outside Jest).
    expect(performance.now() - start).toBeLessThan(1000);
  });
});
