import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles from the initial delay up to the cap, without jitter', () => {
    const b = new Backoff({ initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 });
    expect(Array.from({ length: 6 }, () => b.next())).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(b.attempts).toBe(6);
  });

  it('starts again from the initial delay after a reset', () => {
    const b = new Backoff({ initialDelayMs: 100, jitter: 0 });
    b.next();
    b.next();
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('takes up to the jitter share off each delay, never more', () => {
    const low = new Backoff({ initialDelayMs: 1000, jitter: 0.5, random: () => 0.999999 });
    const high = new Backoff({ initialDelayMs: 1000, jitter: 0.5, random: () => 0 });
    expect(low.next()).toBe(500);
    expect(high.next()).toBe(1000);
  });

  it('spreads clients dropped together (default jitter)', () => {
    const delays = new Set(Array.from({ length: 50 }, () => new Backoff().next()));
    expect(delays.size).toBeGreaterThan(10);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(125);
    for (const d of delays) expect(d).toBeLessThanOrEqual(250);
  });

  it('refuses nonsensical bounds', () => {
    expect(() => new Backoff({ initialDelayMs: 500, maxDelayMs: 100 })).toThrow(RangeError);
    expect(() => new Backoff({ factor: 0.5 })).toThrow(RangeError);
  });
});
