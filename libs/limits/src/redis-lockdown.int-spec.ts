import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { LimitsErrorCode, type LimitsError } from './limits.errors.js';
import { describeLockdownContract } from './lockdown-contract.js';
import type { LockdownState } from './lockdown.js';
import { RedisLockdown, type RedisLockdownOptions } from './redis-lockdown.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

/** A connection set up as the gateway's (fail fast, no offline queue), connected. */
async function connect(): Promise<Redis> {
  const client = new Redis(REDIS_URL, {
    connectionName: 'sscontrol-test-lockdown',
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
  });
  await client.connect();
  return client;
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

describeLockdownContract('redis', async (clock) => {
  const prefix = `test:limits:${randomUUID()}:`;
  const client = await connect();
  return {
    lockdown: new RedisLockdown({ client, prefix, clock }),
    cleanup: async () => {
      await client.del(`${prefix}lockdown`);
      await client.quit();
    },
  };
});

describe('RedisLockdown across instances', () => {
  let prefix: string;
  let opened: { lockdown: RedisLockdown; client: Redis }[];

  /** An instance on its own connection (as another process), subscribed when it resolves. */
  async function instance(options: Partial<RedisLockdownOptions> = {}) {
    const client = await connect();
    const errors: LimitsError[] = [];
    const lockdown = new RedisLockdown({
      client,
      prefix,
      // A long poll unless a test wants one: propagation must come from pub/sub.
      pollMs: 60_000,
      onError: (e) => errors.push(e),
      ...options,
    });
    await lockdown.start();
    opened.push({ lockdown, client });
    for (let i = 0; i < 400; i++) {
      const [, n] = (await client.pubsub('NUMSUB', `${prefix}lockdown:changed`)) as [
        string,
        number,
      ];
      if (n >= opened.length) break;
      await sleep(5);
    }
    return { lockdown, client, errors };
  }

  beforeEach(() => {
    prefix = `test:limits:${randomUUID()}:`;
    opened = [];
  });
  afterEach(async () => {
    await Promise.all(opened.map((o) => o.lockdown.close()));
    await opened[0]?.client.del(`${prefix}lockdown`);
    await Promise.all(opened.map((o) => o.client.quit()));
  });

  it('reaches the other instance within 1 s, on and off', async () => {
    const a = await instance();
    const b = await instance();
    const heard: LockdownState[] = [];
    b.lockdown.onChange((state) => heard.push(state));

    const on = await a.lockdown.set({ dropExisting: true, reason: 'breach', incidentId: 'inc-7' });
    expect(await within(1000, () => b.lockdown.state().enabled)).toBeLessThan(1000);
    expect(b.lockdown.state()).toEqual(on);
    expect(heard).toEqual([on]);

    expect(await a.lockdown.clear()).toBe(true);
    expect(await within(1000, () => !b.lockdown.state().enabled)).toBeLessThan(1000);
    expect(heard).toHaveLength(2);
  });

  it('keeps the first start when another instance changes the options', async () => {
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    const a = await instance({ clock: () => now });
    const b = await instance({ clock: () => now + 3_600_000 });
    await a.lockdown.set();
    now += 1000;
    const changed = await b.lockdown.set({ dropExisting: true });
    expect(changed.since).toBe('2030-01-01T00:00:00.000Z');
    expect(await within(1000, () => a.lockdown.state().dropExisting)).toBeLessThan(1000);
  });

  it('catches a lost change message by polling', async () => {
    const b = await instance({ pollMs: 100 });
    await b.client.set(
      `${prefix}lockdown`,
      JSON.stringify({ dropExisting: false, since: new Date().toISOString() }),
    );
    expect(await within(1000, () => b.lockdown.state().enabled)).toBeLessThan(1000);
    await b.client.del(`${prefix}lockdown`);
    expect(await within(1000, () => !b.lockdown.state().enabled)).toBeLessThan(1000);
  });

  it('is in lockdown when the key holds no record, and says so once', async () => {
    const b = await instance();
    await b.client.set(`${prefix}lockdown`, 'garbage');
    await b.lockdown.refresh();
    await b.lockdown.refresh();
    expect(b.lockdown.state()).toEqual({ enabled: true, dropExisting: false, since: null });
    expect(b.errors.map((e) => e.code)).toEqual([LimitsErrorCode.StoreCorrupt]);
    expect(await b.lockdown.clear()).toBe(true);
    expect(b.lockdown.state().enabled).toBe(false);
  });

  it('keeps the state it has while Redis is gone, and reports the failed reloads', async () => {
    const b = await instance({ pollMs: 50 });
    await b.lockdown.set({ reason: 'x' });
    b.client.disconnect();
    expect(await within(2000, () => b.errors.length > 0)).toBeLessThan(2000);
    expect(b.errors[0]?.code).toBe(LimitsErrorCode.StoreUnavailable);
    expect(b.lockdown.state().enabled).toBe(true);
    await expect(b.lockdown.clear()).rejects.toMatchObject({
      code: LimitsErrorCode.StoreUnavailable,
    });
    expect(b.lockdown.state().enabled).toBe(true);
    // Cleanup needs a live connection for the key.
    await b.client.connect();
  });
});
