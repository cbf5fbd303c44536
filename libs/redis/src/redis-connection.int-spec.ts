import { once } from 'node:events';
import { freePort, startRedisServer } from '@sscontrol/testing';
import { RedisConnection } from './redis-connection.js';

describe('RedisConnection', () => {
  it('waits for a missing Redis, says so once, and is ready when it appears, again after it restarts', async () => {
    const port = await freePort();
    const conn = new RedisConnection({
      url: `redis://127.0.0.1:${port}`,
      name: 'test',
      maxRetryDelayMs: 100,
    });
    const states: string[] = [];
    conn.on('unavailable', () => states.push('unavailable'));
    conn.on('ready', () => states.push('ready'));
    expect(await conn.start()).toBe('unavailable');
    await new Promise((r) => setTimeout(r, 400));
    expect(states).toEqual(['unavailable']);
    const redis = await startRedisServer({ port });
    try {
      await conn.whenReady();
      expect(await conn.client.ping()).toBe('PONG');
      await redis.kill();
      await once(conn, 'unavailable');
      await expect(conn.client.ping()).rejects.toThrow();
      await redis.restart();
      await conn.whenReady();
      expect(states).toEqual(['unavailable', 'ready', 'unavailable', 'ready']);
    } finally {
      await conn.close();
      await redis.remove();
    }
  });
});
