import {
  ConnectionLimiter,
  type ConnectionLimits,
  type OpenOutcome,
} from './connection-limiter.js';
import { LimitsErrorCode } from './limits.errors.js';

const MINUTE = 60_000;

function limiter(overrides: Partial<ConnectionLimits> = {}): ConnectionLimiter {
  return new ConnectionLimiter({
    connectionsPerIp: 3,
    connectionRatePerIp: 1000,
    maxConnections: 1000,
    ...overrides,
  });
}

function admitted(outcome: OpenOutcome): () => void {
  if (!outcome.ok) throw new Error(`refused: ${outcome.limit}/${outcome.scope}`);
  return outcome.release;
}

/** The i-th IPv4 address of a scan. */
function nth(i: number): string {
  return `${(i >>> 24) & 255}.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
}

describe('ConnectionLimiter', () => {
  describe('open connections per address', () => {
    it('admits connectionsPerIp, refuses the next, and admits again after a release', () => {
      const limits = limiter();
      const releases = [1, 2, 3].map(() => admitted(limits.tryOpen('192.0.2.1', 0)));
      expect(limits.tryOpen('192.0.2.1', 1)).toEqual({
        ok: false,
        limit: 'concurrent_connections',
        scope: 'ip',
        repeat: false,
      });
      expect(limits.tryOpen('192.0.2.2', 1).ok).toBe(true);
      releases[0]!();
      expect(limits.tryOpen('192.0.2.1', 2).ok).toBe(true);
    });

    it('says when the address was already refused this minute, so it is audited once', () => {
      const limits = limiter({ connectionsPerIp: 1 });
      admitted(limits.tryOpen('192.0.2.1', 0));
      expect(limits.tryOpen('192.0.2.1', 1)).toMatchObject({ ok: false, repeat: false });
      expect(limits.tryOpen('192.0.2.1', 2)).toMatchObject({ ok: false, repeat: true });
      expect(limits.tryOpen('192.0.2.1', MINUTE + 1)).toMatchObject({ ok: false, repeat: false });
    });

    it('frees a place once however often release is called', () => {
      const limits = limiter({ connectionsPerIp: 2 });
      const release = admitted(limits.tryOpen('192.0.2.1', 0));
      admitted(limits.tryOpen('192.0.2.1', 0));
      release();
      release();
      release();
      expect(limits.open).toBe(1);
      expect(limits.openFor('192.0.2.1')).toBe(1);
      admitted(limits.tryOpen('192.0.2.1', 0));
      expect(limits.tryOpen('192.0.2.1', 0).ok).toBe(false);
    });

    it('counts an IPv4 client and its IPv4-mapped form as one', () => {
      const limits = limiter({ connectionsPerIp: 1 });
      admitted(limits.tryOpen('192.0.2.1', 0));
      expect(limits.tryOpen('::ffff:192.0.2.1', 0).ok).toBe(false);
    });

    it('counts IPv6 clients per /64 by default, per address with ipv6Prefix 128', () => {
      const per64 = limiter({ connectionsPerIp: 1 });
      admitted(per64.tryOpen('2001:db8:1:2::1', 0));
      expect(per64.tryOpen('2001:db8:1:2:ffff:ffff:ffff:ffff', 0).ok).toBe(false);
      expect(per64.tryOpen('2001:db8:1:3::1', 0).ok).toBe(true);
      const per128 = limiter({ connectionsPerIp: 1, ipv6Prefix: 128 });
      admitted(per128.tryOpen('2001:db8:1:2::1', 0));
      expect(per128.tryOpen('2001:db8:1:2::2', 0).ok).toBe(true);
      expect(per128.tryOpen('2001:DB8:1:2:0::1', 0).ok).toBe(false);
    });
  });

  describe('open connections per instance', () => {
    it('refuses everyone beyond maxConnections, whatever the address', () => {
      const limits = limiter({ maxConnections: 2 });
      const release = admitted(limits.tryOpen('192.0.2.1', 0));
      admitted(limits.tryOpen('192.0.2.2', 0));
      expect(limits.tryOpen('192.0.2.3', 0)).toEqual({
        ok: false,
        limit: 'concurrent_connections',
        scope: 'instance',
        repeat: false,
      });
      expect(limits.tryOpen('192.0.2.4', 0)).toMatchObject({ scope: 'instance', repeat: true });
      release();
      expect(limits.tryOpen('192.0.2.3', 0).ok).toBe(true);
    });
  });

  describe('new connections per minute per address', () => {
    it('admits connectionRatePerIp in a minute, then refuses', () => {
      const limits = limiter({ connectionRatePerIp: 3 });
      for (let i = 0; i < 3; i++) admitted(limits.tryOpen('192.0.2.1', i))();
      expect(limits.tryOpen('192.0.2.1', 10)).toEqual({
        ok: false,
        limit: 'connection_rate',
        scope: 'ip',
        repeat: false,
      });
      expect(limits.tryOpen('192.0.2.2', 10).ok).toBe(true);
    });

    it('slides: the last minute counts, weighted, not the calendar minute', () => {
      const limits = limiter({ connectionRatePerIp: 3 });
      for (let i = 0; i < 3; i++) admitted(limits.tryOpen('192.0.2.1', 50_000))();
      // Ten seconds later a new window starts, but the three are still in the last minute.
      expect(limits.tryOpen('192.0.2.1', MINUTE).ok).toBe(false);
      // Half-way into it, half of the previous window counts: 1.5 + 1 ≤ 3.
      admitted(limits.tryOpen('192.0.2.1', MINUTE + 30_000))();
      expect(limits.tryOpen('192.0.2.1', MINUTE + 30_001).ok).toBe(false);
      // Two windows on, nothing counts.
      for (let i = 0; i < 3; i++) admitted(limits.tryOpen('192.0.2.1', 3 * MINUTE))();
    });

    it('holds a steady reconnecter to the limit per minute over an hour', () => {
      const limits = limiter({ connectionRatePerIp: 60 });
      let admittedCount = 0;
      // Tries ten times a second for an hour.
      for (let t = 0; t < 60 * MINUTE; t += 100) {
        const outcome = limits.tryOpen('192.0.2.1', t);
        if (outcome.ok) {
          admittedCount++;
          outcome.release();
        }
      }
      expect(admittedCount).toBeGreaterThanOrEqual(60 * 60 - 60);
      expect(admittedCount).toBeLessThanOrEqual(60 * 60 + 60);
    });

    it('does not count refused attempts', () => {
      const limits = limiter({ connectionsPerIp: 1, connectionRatePerIp: 2 });
      const release = admitted(limits.tryOpen('192.0.2.1', 0));
      for (let i = 0; i < 100; i++) expect(limits.tryOpen('192.0.2.1', 1).ok).toBe(false);
      release();
      expect(limits.tryOpen('192.0.2.1', 2).ok).toBe(true);
    });
  });

  describe('memory', () => {
    it('stays bounded under a scan of a million addresses', () => {
      const limits = limiter({ maxTrackedAddresses: 100_000 });
      let most = 0;
      for (let i = 0; i < 1_000_000; i++) {
        // One new address every 0.1 ms: the whole scan lies within two rate windows.
        admitted(limits.tryOpen(nth(i), i / 10))();
        most = Math.max(most, limits.trackedAddresses);
      }
      expect(most).toBe(100_000);
      expect(limits.open).toBe(0);
    });

    it('forgets idle addresses once their rate windows have passed, without the cap', () => {
      const limits = limiter({ maxTrackedAddresses: 1_000_000 });
      for (let i = 0; i < 10_000; i++) admitted(limits.tryOpen(nth(i), 0))();
      expect(limits.trackedAddresses).toBe(10_000);
      for (let i = 0; i < 3000; i++) limits.tryOpen('198.51.100.1', 2 * MINUTE + i);
      expect(limits.trackedAddresses).toBe(1);
    });

    it('never forgets an address that holds connections, even when over the cap', () => {
      const limits = limiter({ connectionsPerIp: 2, maxTrackedAddresses: 10 });
      admitted(limits.tryOpen('192.0.2.1', 0));
      admitted(limits.tryOpen('192.0.2.1', 0));
      for (let i = 0; i < 10_000; i++) admitted(limits.tryOpen(nth(i + 1000), 1))();
      expect(limits.trackedAddresses).toBeLessThanOrEqual(10);
      expect(limits.openFor('192.0.2.1')).toBe(2);
      expect(limits.tryOpen('192.0.2.1', 2)).toMatchObject({ ok: false, scope: 'ip' });
    });

    it('keeps the rate of a recently seen address while a scan passes by the cap', () => {
      const limits = limiter({ connectionRatePerIp: 2, maxTrackedAddresses: 100 });
      for (let i = 0; i < 2; i++) admitted(limits.tryOpen('192.0.2.1', 0))();
      for (let i = 0; i < 50; i++) admitted(limits.tryOpen(nth(i + 1000), 1))();
      expect(limits.tryOpen('192.0.2.1', 2)).toMatchObject({ ok: false, limit: 'connection_rate' });
    });
  });

  it.each([
    { connectionsPerIp: 0 },
    { connectionRatePerIp: 1.5 },
    { maxConnections: -1 },
    { ipv6Prefix: 0 },
    { ipv6Prefix: 129 },
    { maxTrackedAddresses: 0 },
  ])('refuses %j', (overrides) => {
    expect(() => limiter(overrides)).toThrow(
      expect.objectContaining({ code: LimitsErrorCode.InvalidOption }),
    );
  });
});
