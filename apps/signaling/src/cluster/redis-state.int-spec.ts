import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisState } from './redis-state.js';
import { describeSignalingStateContract } from './state-contract.js';

const REDIS_URL = 'redis://127.0.0.1:6379';

async function clear(redis: Redis, prefix: string): Promise<void> {
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
}

describeSignalingStateContract('redis', async () => {
  const redis = new Redis(REDIS_URL);
  const prefix = `test:sig:${randomUUID()}:`;
  return {
    state: new RedisState(redis, prefix),
    cleanup: async () => {
      await clear(redis, prefix);
      await redis.quit();
    },
  };
});

describe('RedisState across instances', () => {
  it('routes to the instance holding a peer, and survivors adopt a dead instance', async () => {
    const prefix = `test:sig:${randomUUID()}:`;
    const ra = new Redis(REDIS_URL);
    const rb = new Redis(REDIS_URL);
    const a = new RedisState(ra, prefix);
    const b = new RedisState(rb, prefix);
    const inA: unknown[] = [];
    const inB: unknown[] = [];
    await a.start('gw-a', (m) => inA.push(m));
    await b.start('gw-b', (m) => inB.push(m));
    try {
      const host = {
        peerId: 'h',
        sessionId: 's',
        subject: 'dev',
        role: 'host' as const,
        connectionId: 'ca',
        instance: 'gw-a',
      };
      await a.openSession(
        { sessionId: 's', hostPeerId: 'h', hostSubject: 'dev', maxPeers: 2, joinPolicy: 'token' },
        host,
        'rh',
      );
      const ctl = {
        ...host,
        peerId: 'c',
        subject: 'op',
        role: 'controller' as const,
        connectionId: 'cb',
        instance: 'gw-b',
      };
      await b.join(ctl, 'rc', 'refuse');
      // B sends to the host: it arrives on A only.
      expect(await b.deliver('h', 's', 'control', '{"x":1}', 100)).toBe(1);
      for (let i = 0; i < 100 && inA.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(inA).toEqual([
        {
          kind: 'deliver',
          peerId: 'h',
          seq: 1,
          frame: '{"event":"control","seq":1,"data":{"x":1}}',
        },
      ]);
      expect(inB).toEqual([]);
      // A stops beating: B adopts its peers (away, so they may resume) and claims it only once.
      const now = Date.now();
      await a.beat(now - 60_000);
      await b.beat(now);
      expect(await b.adoptDead(now - 10_000, now + 30_000)).toEqual([
        { instance: 'gw-a', peers: 1 },
      ]);
      expect(await a.adoptDead(now - 10_000, now + 30_000)).toEqual([]);
      expect(await b.expired(now + 31_000)).toEqual([host]);
    } finally {
      await a.close();
      await b.close();
      await clear(ra, prefix);
      await ra.quit();
      await rb.quit();
    }
  });
});
