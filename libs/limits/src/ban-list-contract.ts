import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import type { BanChange, BanList } from './ban-list.js';
import { LimitsErrorCode } from './limits.errors.js';

/** A ban list under test, on a clock the suite moves. */
export type BanListFactory = (
  clock: () => number,
) => Promise<{ bans: BanList; cleanup: () => Promise<void> }>;

const T0 = Date.parse('2030-01-01T00:00:00.000Z');

/** What each ban list must do; run on MemoryBanList (unit) and RedisBanList (integration). */
export function describeBanListContract(name: string, create: BanListFactory): void {
  describe(`ban list contract: ${name}`, () => {
    let now: number;
    let bans: BanList;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      now = T0;
      ({ bans, cleanup } = await create(() => now));
      await bans.start();
    });
    afterEach(async () => {
      await bans.close();
      await cleanup();
    });

    it('bans an address, in canonical form, effective when add resolves', async () => {
      expect(bans.match('2001:db8::1')).toBeNull();
      const entry = await bans.add('2001:DB8:0:0::1', { reason: 'scanner' });
      expect(entry).toEqual({
        target: '2001:db8::1',
        reason: 'scanner',
        addedAt: '2030-01-01T00:00:00.000Z',
        expiresAt: null,
      });
      expect(bans.match('2001:db8::1')).toEqual(entry);
      expect(bans.match('2001:db8::2')).toBeNull();
      expect(await bans.list()).toEqual([entry]);
    });

    it('bans IPv4 and IPv6 networks, and IPv4 clients however they are written', async () => {
      await bans.add('198.51.100.0/24');
      await bans.add('2001:db8:1::/48');
      await bans.add('::ffff:192.0.2.1');
      expect(bans.match('198.51.100.77')?.target).toBe('198.51.100.0/24');
      expect(bans.match('::ffff:198.51.100.77')?.target).toBe('198.51.100.0/24');
      expect(bans.match('198.51.101.1')).toBeNull();
      expect(bans.match('2001:db8:1:ffff::1')?.target).toBe('2001:db8:1::/48');
      expect(bans.match('2001:db8:2::1')).toBeNull();
      expect(bans.match('192.0.2.1')?.target).toBe('192.0.2.1');
    });

    it('answers with the most specific ban', async () => {
      await bans.add('10.0.0.0/8', { reason: 'network' });
      await bans.add('10.1.2.3', { reason: 'host' });
      expect(bans.match('10.1.2.3')?.reason).toBe('host');
      expect(bans.match('10.1.2.4')?.reason).toBe('network');
    });

    it('stops matching a ban at its expiry, and lists it no more', async () => {
      const entry = await bans.add('192.0.2.1', { ttlMs: 60_000 });
      expect(entry.expiresAt).toBe('2030-01-01T00:01:00.000Z');
      now = T0 + 59_999;
      expect(bans.match('192.0.2.1')).not.toBeNull();
      now = T0 + 60_000;
      expect(bans.match('192.0.2.1')).toBeNull();
      expect(await bans.list()).toEqual([]);
      expect(await bans.remove('192.0.2.1')).toBe(false);
    });

    it('replaces the ban of the same target when added again', async () => {
      await bans.add('192.0.2.1', { ttlMs: 1000, reason: 'first' });
      now = T0 + 500;
      await bans.add('192.0.2.1/32', { reason: 'second' });
      now = T0 + 5000;
      expect(bans.match('192.0.2.1')?.reason).toBe('second');
      expect((await bans.list()).map((b) => b.reason)).toEqual(['second']);
    });

    it('lifts exactly the ban removed', async () => {
      await bans.add('10.0.0.0/8');
      await bans.add('10.1.2.3');
      expect(await bans.remove('10.0.0.0/8')).toBe(true);
      expect(await bans.remove('10.0.0.0/8')).toBe(false);
      expect(bans.match('10.9.9.9')).toBeNull();
      expect(bans.match('10.1.2.3')).not.toBeNull();
      expect(await bans.remove('::ffff:10.1.2.3')).toBe(true);
      expect(bans.match('10.1.2.3')).toBeNull();
    });

    it('lists the bans in force, most recently added first', async () => {
      await bans.add('192.0.2.1');
      now += 1000;
      await bans.add('192.0.2.2', { ttlMs: 10 });
      now += 1000;
      await bans.add('2001:db8::/32');
      expect((await bans.list()).map((b) => b.target)).toEqual(['2001:db8::/32', '192.0.2.1']);
    });

    it('tells listeners what was added and removed, until they unsubscribe', async () => {
      const changes: BanChange[] = [];
      const stop = bans.onChange((c) => changes.push(c));
      const added = await bans.add('192.0.2.1');
      await bans.remove('192.0.2.1');
      stop();
      await bans.add('192.0.2.2');
      expect(changes).toEqual([
        { added: [added], removed: [] },
        { added: [], removed: [added] },
      ]);
    });

    it.each([
      ['garbage', 'not-an-ip'],
      ['empty', ''],
      ['host bits set', '10.1.2.3/8'],
      ['prefix too long', '10.0.0.0/33'],
      ['a zone', 'fe80::1%eth0'],
      ['a port', '192.0.2.1:80'],
      ['too long', `${'1:'.repeat(40)}1`],
    ])('refuses a target with %s', async (_what, target) => {
      await expect(bans.add(target)).rejects.toMatchObject({
        code: LimitsErrorCode.InvalidBanTarget,
      });
      await expect(bans.remove(target)).rejects.toMatchObject({
        code: LimitsErrorCode.InvalidBanTarget,
      });
    });

    it.each([
      ['a zero TTL', { ttlMs: 0 }],
      ['a negative TTL', { ttlMs: -5 }],
      ['a fractional TTL', { ttlMs: 1.5 }],
      ['a TTL over ten years', { ttlMs: 11 * 366 * 24 * 3600 * 1000 }],
      ['an empty reason', { reason: '' }],
      ['a reason of 501 characters', { reason: 'x'.repeat(501) }],
      ['an unknown option', { until: 5 }],
    ])('refuses options with %s', async (_what, options) => {
      await expect(bans.add('192.0.2.1', options as never)).rejects.toMatchObject({
        code: LimitsErrorCode.InvalidOption,
      });
      expect(bans.match('192.0.2.1')).toBeNull();
    });
  });
}
