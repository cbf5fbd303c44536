import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import {
  describeKeyStoreContract,
  startRedisServer,
  testRingDocument,
  type TestRedisServer,
} from '@sscontrol/testing';
import { KeysErrorCode } from './keys.errors.js';
import { RedisKeyStore } from './redis-key-store.js';

let redis: TestRedisServer;
/** Unique per test file; each test adds a suffix. */
const filePrefix = `test:keyring:${randomBytes(4).toString('hex')}`;
let n = 0;

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis.remove();
});

/** Two instances (each with its own client, as two processes) over one prefix. */
async function instances() {
  const prefix = `${filePrefix}:${++n}`;
  const clients = [new Redis(redis.url), new Redis(redis.url)] as const;
  const [a, b] = clients;
  return {
    prefix,
    admin: a,
    store: new RedisKeyStore({ client: a, prefix }),
    second: new RedisKeyStore({ client: b, prefix }),
    writeRaw: async (text: string) => void (await a.set(prefix, text)),
    async cleanup() {
      const keys = await a.keys(`${prefix}*`);
      if (keys.length > 0) await a.del(...keys);
      await Promise.all(clients.map((c) => c.quit()));
    },
  };
}

describeKeyStoreContract('redis', instances);

describe('RedisKeyStore', () => {
  it('refuses a write when its lock expired and another process wrote meanwhile', async () => {
    const { prefix, admin, store, second, cleanup } = await instances();
    try {
      const error = await store
        .update(async () => {
          // As if the lease ran out during a slow update and another process took over.
          await admin.del(`${prefix}:lock`);
          await second.update(async () => ({ next: testRingDocument(1), result: null }));
          return { next: testRingDocument(1), result: null };
        })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: KeysErrorCode.KeyStoreBusy });
      expect((await store.read())?.version).toBe(1);
      expect(await admin.exists(`${prefix}:lock`)).toBe(0);
    } finally {
      await store.close();
      await second.close();
      await cleanup();
    }
  });

  it('sees a write published while its subscriber was disconnected, and leaves the caller a usable client', async () => {
    const { admin, store, second, cleanup } = await instances();
    try {
      let calls = 0;
      const stop = second.watch(() => (calls += 1));
      await sleep(200);
      const killed = Number(await admin.client('KILL', 'TYPE', 'PUBSUB'));
      expect(killed).toBeGreaterThan(0);
      await store.update(async () => ({ next: testRingDocument(1), result: null }));
      const written = Date.now();
      while (calls === 0 && Date.now() - written < 5_000) await sleep(5);
      expect(calls).toBeGreaterThan(0);
      expect(Date.now() - written).toBeLessThan(2_500);
      stop();
      await second.close();
      // The store's own connection is not in subscriber mode and stays open after close().
      expect((await second.read())?.version).toBe(1);
    } finally {
      await store.close();
      await second.close();
      await cleanup();
    }
  });

  it('reports an unreachable Redis as key_store_unavailable', async () => {
    // As a request-path client while Redis is down: no offline queue, so commands fail at once.
    const client = new Redis({ port: 1, lazyConnect: true, enableOfflineQueue: false });
    const store = new RedisKeyStore({ client });
    try {
      await expect(store.read()).rejects.toMatchObject({
        code: KeysErrorCode.KeyStoreUnavailable,
      });
    } finally {
      await store.close();
      client.disconnect();
    }
  });
});
