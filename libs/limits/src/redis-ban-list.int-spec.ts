import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { freePort } from '@sscontrol/testing';
import type { BanChange } from './ban-list.js';
import { describeBanListContract } from './ban-list-contract.js';
import { LimitsErrorCode, type LimitsError } from './limits.errors.js';
import { RedisBanList, type RedisBanListOptions } from './redis-ban-list.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

/** A connection set up as the gateway's (fail fast, no offline queue), connected. */
async function connect(name: string): Promise<Redis> {
  const client = new Redis(REDIS_URL, {
    connectionName: name,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  await client.connect();
  return client;
}

/** Waits until `count` connections subscribe to `channel` (start() does not wait for it). */
async function subscribers(redis: Redis, channel: string, count: number): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const [, n] = (await redis.pubsub('NUMSUB', channel)) as [string, number];
    if (n >= count) return;
    await sleep(5);
  }
  throw new Error(`${channel} has fewer than ${count} subscribers`);
}

async function clear(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

/** Polls `probe` every 5 ms until it holds; returns the milliseconds it took, or Infinity. */
async function within(ms: number, probe: () => boolean): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < ms) {
    if (probe()) return performance.now() - start;
    await sleep(5);
  }
  return probe() ? performance.now() - start : Infinity;
}

describeBanListContract('redis', async (clock) => {
  const prefix = `test:limits:${randomUUID()}:`;
  const client = await connect('sscontrol-test-bans');
  return {
    bans: new RedisBanList({ client, prefix, clock }),
    cleanup: async () => {
      await clear(client, prefix);
      await client.quit();
    },
  };
});

describe('RedisBanList across instances', () => {
  const prefix = () => `test:limits:${randomUUID()}:`;
  let open: { bans: RedisBanList[]; clients: Redis[]; prefixes: string[] };

  /** An instance of its own connection (as another process), with its own options. */
  async function instance(
    keyPrefix: string,
    options: Partial<RedisBanListOptions> = {},
    name = 'sscontrol-test-bans',
  ): Promise<{ bans: RedisBanList; client: Redis; errors: LimitsError[] }> {
    const client = await connect(name);
    const errors: LimitsError[] = [];
    const bans = new RedisBanList({
      client,
      prefix: keyPrefix,
      // Long poll intervals unless a test wants them: propagation must come from pub/sub.
      pollMs: 60_000,
      fullReloadMs: 600_000,
      onError: (e) => errors.push(e),
      ...options,
    });
    await bans.start();
    open.bans.push(bans);
    open.clients.push(client);
    open.prefixes.push(keyPrefix);
    const sharing = open.prefixes.filter((x) => x === keyPrefix).length;
    await subscribers(client, `${keyPrefix}bans:changed`, sharing);
    return { bans, client, errors };
  }

  beforeEach(() => {
    open = { bans: [], clients: [], prefixes: [] };
  });
  afterEach(async () => {
    await Promise.all(open.bans.map((b) => b.close()));
    const admin = await connect('sscontrol-test-bans-cleanup');
    for (const p of new Set(open.prefixes)) await clear(admin, p);
    await admin.quit();
    await Promise.all(open.clients.map((c) => c.quit().catch(() => c.disconnect())));
  });

  it('enforces on B, within 1 s, a ban added through A, and lifts it as fast', async () => {
    const p = prefix();
    const a = await instance(p);
    const b = await instance(p);
    const changes: BanChange[] = [];
    b.bans.onChange((c) => changes.push(c));

    const added = await a.bans.add('203.0.113.9', { reason: 'scanner' });
    expect(await within(1000, () => b.bans.match('203.0.113.9') !== null)).toBeLessThan(1000);
    expect(b.bans.match('203.0.113.9')).toEqual(added);
    expect(changes).toEqual([{ added: [added], removed: [] }]);

    expect(await a.bans.remove('203.0.113.9')).toBe(true);
    expect(await within(1000, () => b.bans.match('203.0.113.9') === null)).toBeLessThan(1000);
    expect(changes[1]).toEqual({ added: [], removed: [added] });
  });

  it('enforces IPv4 and IPv6 networks on the other instance', async () => {
    const p = prefix();
    const a = await instance(p);
    const b = await instance(p);
    await a.bans.add('198.51.100.0/24');
    await a.bans.add('2001:db8:1::/48');
    expect(await within(1000, () => b.bans.match('::ffff:198.51.100.200') !== null)).toBeLessThan(
      1000,
    );
    expect(await within(1000, () => b.bans.match('2001:db8:1:2::3') !== null)).toBeLessThan(1000);
    expect(b.bans.match('198.51.101.1')).toBeNull();
    expect(b.bans.match('2001:db8:2::1')).toBeNull();
  });

  it('stops matching at the expiry without a reload, and the next reload purges it', async () => {
    const p = prefix();
    const a = await instance(p);
    const b = await instance(p);
    const entry = await a.bans.add('203.0.113.10', { ttlMs: 400 });
    expect(await within(1000, () => b.bans.match('203.0.113.10') !== null)).toBeLessThan(1000);
    const expiresAt = Date.parse(entry.expiresAt!);
    // Just before and at the expiry, by B's clock (explicit, so a slow machine cannot blur it).
    expect(b.bans.match('203.0.113.10', expiresAt - 1)).not.toBeNull();
    expect(b.bans.match('203.0.113.10', expiresAt)).toBeNull();
    await sleep(Math.max(0, expiresAt - Date.now()) + 20);
    expect(b.bans.match('203.0.113.10')).toBeNull();
    expect(await a.client.hexists(`${p}bans`, '203.0.113.10')).toBe(1);

    const changes: BanChange[] = [];
    b.bans.onChange((c) => changes.push(c));
    await b.bans.refresh();
    expect(await a.client.hexists(`${p}bans`, '203.0.113.10')).toBe(0);
    expect(changes).toEqual([{ added: [], removed: [entry] }]);
  });

  it('catches a lost change message by polling the version, and a hand edit by a full reload', async () => {
    const p = prefix();
    const admin = await instance(p);
    const versionPoll = await instance(p, { pollMs: 100 });
    const fullReload = await instance(p, { pollMs: 100, fullReloadMs: 500 });
    const value = JSON.stringify({ expiresAt: null, addedAt: new Date().toISOString() });

    // Written as add() does, but nothing published.
    await admin.client.hset(`${p}bans`, '203.0.113.11', value);
    await admin.client.incr(`${p}bans:version`);
    expect(await within(1000, () => versionPoll.bans.match('203.0.113.11') !== null)).toBeLessThan(
      1000,
    );

    // Edited by hand: no version bump either.
    await admin.client.hset(`${p}bans`, '203.0.113.12', value);
    expect(await within(2000, () => fullReload.bans.match('203.0.113.12') !== null)).toBeLessThan(
      2000,
    );
    expect(versionPoll.bans.match('203.0.113.12')).toBeNull();
    expect(admin.bans.match('203.0.113.11')).toBeNull();
  });

  it('reloads when its subscriber reconnects, catching what was missed meanwhile', async () => {
    const p = prefix();
    const name = `sscontrol-test-bans-${randomUUID().slice(0, 8)}`;
    const b = await instance(p, {}, name);
    const writer = await connect('sscontrol-test-bans');
    open.clients.push(writer);
    await writer.hset(
      `${p}bans`,
      '203.0.113.13',
      JSON.stringify({ expiresAt: null, addedAt: new Date().toISOString() }),
    );
    await writer.incr(`${p}bans:version`);
    await sleep(200);
    expect(b.bans.match('203.0.113.13')).toBeNull();

    const list = String(await writer.call('CLIENT', 'LIST', 'TYPE', 'pubsub'));
    const ids = list
      .split('\n')
      .filter((line) => line.includes(` name=${name} `))
      .map((line) => /^id=(\d+)/.exec(line)?.[1]);
    expect(ids).toHaveLength(1);
    await writer.call('CLIENT', 'KILL', 'ID', ids[0]!);
    expect(await within(2000, () => b.bans.match('203.0.113.13') !== null)).toBeLessThan(2000);
  });

  it('enforces a ban whose record is unreadable, skips a field that is no target, and says so once', async () => {
    const p = prefix();
    const b = await instance(p);
    await b.client.hset(`${p}bans`, '198.51.100.9', 'garbage', 'nonsense', '{}');
    await b.bans.refresh();
    await b.bans.refresh();
    expect(b.bans.match('198.51.100.9')?.expiresAt).toBeNull();
    expect(b.errors.map((e) => e.code)).toEqual([
      LimitsErrorCode.StoreCorrupt,
      LimitsErrorCode.StoreCorrupt,
    ]);
    expect(b.errors.map((e) => e.message).join('\n')).toMatch(
      /nonsense[\s\S]*198\.51\.100\.9|198\.51\.100\.9[\s\S]*nonsense/,
    );
    expect((await b.bans.list()).map((e) => e.target)).toEqual(['198.51.100.9']);
  });

  it('purges an expired ban only if it was not added again meanwhile', async () => {
    const p = prefix();
    const b = await instance(p);
    const purge = (
      b.client as unknown as Record<string, (...a: string[]) => Promise<number>>
    ).sscLimitsBanPurge!.bind(b.client);
    await b.client.hset(`${p}bans`, '192.0.2.1', 'new value');
    expect(await purge(`${p}bans`, '192.0.2.1', 'old value')).toBe(0);
    expect(await b.client.hget(`${p}bans`, '192.0.2.1')).toBe('new value');
    expect(await purge(`${p}bans`, '192.0.2.1', 'new value')).toBe(1);
    expect(await b.client.hexists(`${p}bans`, '192.0.2.1')).toBe(0);
  });

  it('keeps enforcing the bans it has while Redis is gone, and reports the failed reloads', async () => {
    const p = prefix();
    const b = await instance(p, { pollMs: 50, fullReloadMs: 50 });
    await b.bans.add('203.0.113.14');
    b.client.disconnect();
    expect(await within(2000, () => b.errors.length > 0)).toBeLessThan(2000);
    expect(b.errors[0]?.code).toBe(LimitsErrorCode.StoreUnavailable);
    expect(b.bans.match('203.0.113.14')).not.toBeNull();
    await expect(b.bans.add('203.0.113.15')).rejects.toMatchObject({
      code: LimitsErrorCode.StoreUnavailable,
    });
    expect(b.bans.match('203.0.113.15')).toBeNull();
  });

  it('refuses to start without Redis', async () => {
    const client = new Redis({
      port: await freePort(),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    const bans = new RedisBanList({ client, prefix: prefix() });
    await expect(bans.start()).rejects.toMatchObject({
      code: LimitsErrorCode.StoreUnavailable,
    });
    await bans.close();
    client.disconnect();
  });
});
