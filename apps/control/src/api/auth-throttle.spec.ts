import { AuthThrottle } from './auth-throttle.js';

const MINUTE = 60_000;

/** A throttle with a limit of 3 on a clock the test moves. */
function throttleAt(start = 1_700_000_000_000) {
  const clock = { now: start };
  const throttle = new AuthThrottle(3, () => clock.now);
  return { clock, throttle, start };
}

describe('AuthThrottle', () => {
  it('blocks an address at the limit, starting the block once, without touching other addresses', () => {
    const { clock, throttle } = throttleAt();
    const starts = [1, 2, 3].map(() => {
      clock.now += 1000;
      return throttle.fail('203.0.113.7');
    });
    expect(starts).toEqual([false, false, true]);
    expect(throttle.retryAfterMs('203.0.113.7')).toBe(MINUTE);
    expect(throttle.retryAfterMs('203.0.113.8')).toBe(0);

    // The count restarts with the block: the next two failures do not start another one.
    expect(throttle.fail('203.0.113.7')).toBe(false);
    expect(throttle.fail('203.0.113.7')).toBe(false);
    clock.now += MINUTE - 1;
    expect(throttle.retryAfterMs('203.0.113.7')).toBe(1);
  });

  it('lets the address try again 60 s after the block started, counting afresh', () => {
    const { clock, throttle } = throttleAt();
    for (let i = 0; i < 3; i++) throttle.fail('2001:db8::1');
    const blockedAt = clock.now;
    clock.now = blockedAt + MINUTE - 1;
    expect(throttle.retryAfterMs('2001:db8::1')).toBe(1);
    clock.now = blockedAt + MINUTE;
    expect(throttle.retryAfterMs('2001:db8::1')).toBe(0);

    expect(throttle.fail('2001:db8::1')).toBe(false);
    expect(throttle.fail('2001:db8::1')).toBe(false);
    expect(throttle.retryAfterMs('2001:db8::1')).toBe(0);
    expect(throttle.fail('2001:db8::1')).toBe(true);
    expect(throttle.retryAfterMs('2001:db8::1')).toBe(MINUTE);
  });

  it('does not count failures a minute old or older', () => {
    const { clock, throttle, start } = throttleAt();
    expect(throttle.fail('198.51.100.1')).toBe(false); // t = 0
    clock.now = start + 30_000;
    expect(throttle.fail('198.51.100.1')).toBe(false); // t = 30 s
    clock.now = start + MINUTE;
    // The failure at t = 0 is exactly a minute old: two recent failures, below the limit.
    expect(throttle.fail('198.51.100.1')).toBe(false);
    expect(throttle.retryAfterMs('198.51.100.1')).toBe(0);
    clock.now = start + MINUTE + 1;
    // t = 30 s, 60 s and 60.001 s are within the minute: the third recent failure blocks.
    expect(throttle.fail('198.51.100.1')).toBe(true);
    expect(throttle.retryAfterMs('198.51.100.1')).toBe(MINUTE);
  });
});
