import path from 'node:path';
import { freePort, startRedisServer, startService, tempDir } from '@sscontrol/testing';

describe('control without Redis', () => {
  it('says once that jobs wait for Redis, then starts them when Redis appears', async () => {
    const dir = tempDir();
    const redisPort = await freePort();
    const env = {
      SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
      CONTROL_PORT: String(await freePort()),
      CONTROL_HOST: '127.0.0.1',
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    };
    const control = startService('control', env, dir.path);
    const redis = { server: null as Awaited<ReturnType<typeof startRedisServer>> | null };
    try {
      await control.waitForLog((l) => String(l.msg).startsWith('control API listening'));
      await new Promise((r) => setTimeout(r, 1500));
      const waiting = control.logs.filter((l) => String(l.msg).includes('wait for Redis'));
      expect(waiting.map((l) => l.msg)).toEqual([
        `scheduled jobs wait for Redis at redis://127.0.0.1:${redisPort}`,
      ]);
      expect(control.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
      const health = (await (
        await fetch(`http://127.0.0.1:${env.CONTROL_PORT}/health`)
      ).json()) as { status: string; checks: Record<string, { status: string }> };
      expect(health.status).toBe('degraded');
      expect(health.checks.jobs).toMatchObject({ status: 'degraded' });

      redis.server = await startRedisServer({ port: redisPort });
      await control.waitForLog((l) => String(l.msg).endsWith('scheduled jobs started'), 15_000);
      const after = (await (await fetch(`http://127.0.0.1:${env.CONTROL_PORT}/health`)).json()) as {
        status: string;
        checks: Record<string, { status: string }>;
      };
      expect(after.checks.jobs).toMatchObject({ status: 'up' });
      expect(after.checks.redis).toMatchObject({ status: 'up' });
      expect(await control.stop()).toBe(0);
    } finally {
      await control.stop('SIGKILL');
      await redis.server?.remove();
      dir.remove();
    }
  });
});
