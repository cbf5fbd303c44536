import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { MasterKey } from '@sscontrol/keys';
import {
  createTestPostgresSchema,
  freePort,
  runCli,
  startService,
  tempDir,
  testTokenMinter,
  TestSignalingClient,
  type ServiceProcess,
  type TestPostgresSchema,
} from '@sscontrol/testing';
import { RedisBanList, RedisLockdown } from '@sscontrol/limits';

const REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * Admission on two real gateway instances sharing Redis: client addresses from a trusted proxy's
 * `X-Forwarded-For` (and not from anyone else's), cluster-wide bans with a TTL, cluster-wide
 * lockdown, the `Origin` check and per-address connection limits — each refusal with its close
 * code, metric and audit event.
 */
describe('signaling gateway: limits, bans and lockdown across instances', () => {
  let dir: ReturnType<typeof tempDir>;
  let db: TestPostgresSchema;
  let env: Record<string, string>;
  let minter: Awaited<ReturnType<typeof testTokenMinter>>;
  const gateways: ServiceProcess[] = [];
  const ports: number[] = [];
  const clients: TestSignalingClient[] = [];
  let redis: Redis;
  let bans: RedisBanList;
  let lockdown: RedisLockdown;

  /** Connects as if through nginx from `from` (the gateways trust loopback proxies). */
  async function connect(gw: number, from: string, options: { origin?: string } = {}) {
    const token = await minter.mint(`dev-${randomUUID().slice(0, 6)}`, 'controller');
    const client = await TestSignalingClient.connect(`ws://127.0.0.1:${ports[gw]}/ws`, token, {
      headers: { 'X-Forwarded-For': from },
      ...options,
    });
    clients.push(client);
    return client;
  }

  async function admitted(client: TestSignalingClient) {
    return client.waitFor((f) => f.event === 'welcome');
  }

  beforeAll(async () => {
    dir = tempDir();
    db = await createTestPostgresSchema();
    redis = new Redis(REDIS_URL);
    env = {
      SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
      SSCONTROL_MASTER_KEY: MasterKey.generate(),
      SIGNALING_HOST: '127.0.0.1',
      SIGNALING_CLUSTER: 'redis',
      SIGNALING_TRUST_PROXY: 'loopback',
      SIGNALING_CONNECTIONS_PER_IP: '3',
      SIGNALING_ALLOWED_ORIGINS: 'https://app.example.com',
      REDIS_URL,
      EVENT_STORE: 'postgres',
      EVENT_STORE_POSTGRES_URL: db.url,
      EVENT_STORE_POSTGRES_SCHEMA: db.schema,
      TURN_SECRET_SYNC: 'none',
    };
    expect((await runCli(['init'], env, dir.path)).code).toBe(0);
    minter = await testTokenMinter(env, dir.path);
    for (const name of ['lim-a', 'lim-b']) {
      const port = await freePort();
      ports.push(port);
      const g = startService(
        'signaling',
        { ...env, SIGNALING_PORT: String(port), SSCONTROL_INSTANCE_ID: `${name}-${port}` },
        dir.path,
      );
      gateways.push(g);
    }
    await Promise.all(
      gateways.map((g) =>
        g.waitForLog((l) => String(l.msg).startsWith('signaling gateway listening')),
      ),
    );
    bans = new RedisBanList({ client: redis });
    lockdown = new RedisLockdown({ client: redis });
    await bans.start();
    await lockdown.start();
  });

  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const b of await bans.list()) await bans.remove(b.target);
    await lockdown.clear();
  });

  afterAll(async () => {
    minter?.close();
    await Promise.all(gateways.map((g) => g.stop('SIGKILL')));
    await bans?.close();
    await lockdown?.close();
    await redis?.quit();
    await db?.drop();
    dir.remove();
  });

  it('takes the client address from a trusted proxy, right to left, so it cannot be chosen', async () => {
    // The rightmost untrusted hop is the client: a forged leftmost entry is ignored.
    const client = await connect(0, '203.0.113.99, 198.51.100.7');
    const welcome = await admitted(client);
    const rows = await db.query<{ ip: string }>(
      `SELECT data::jsonb->>'ip' AS ip FROM "${db.schema}".events WHERE type = 'connection.opened' AND stream_id = $1`,
      [`connection-${welcome.data.connectionId as string}`],
    );
    expect(rows.rows[0]?.ip).toBe('198.51.100.7');
  });

  it('bans an address range on every instance within a second, with a TTL', async () => {
    const a = await connect(0, '203.0.113.10');
    const b = await connect(1, '203.0.113.11');
    const other = await connect(1, '192.0.2.50');
    await Promise.all([admitted(a), admitted(b), admitted(other)]);
    const started = Date.now();
    await bans.add('203.0.113.0/24', { ttlMs: 2500, reason: 'test' });
    expect(await a.waitClosed(2000)).toBe(4451);
    expect(await b.waitClosed(2000)).toBe(4451);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(other.closeCode).toBeNull();
    const refused = await connect(1, '203.0.113.12');
    expect(await refused.waitClosed()).toBe(4451);
    // The TTL lifts it.
    await new Promise((r) => setTimeout(r, 2600 - (Date.now() - started)));
    await admitted(await connect(0, '203.0.113.12'));
    const metrics = await (await fetch(`http://127.0.0.1:${ports[1]}/metrics`)).text();
    expect(metrics).toMatch(/sscontrol_limit_hits_total\{limit="ip_banned"\} [1-9]/);
    const rejected = await db.query(
      `SELECT 1 FROM "${db.schema}".events WHERE type = 'connection.rejected' AND data::jsonb->>'reason' = 'ip_banned'`,
    );
    expect(rejected.rowCount).toBeGreaterThanOrEqual(1);
  });

  it('locks the cluster down: new connections and sessions refused, existing ones dropped when asked', async () => {
    const host = await connect(0, '192.0.2.60');
    await admitted(host);
    await lockdown.set({ dropExisting: false, reason: 'incident' });
    await new Promise((r) => setTimeout(r, 1000));
    expect((await host.request('session.open', { sessionId: 'ld-1' })).data).toMatchObject({
      code: 'lockdown',
    });
    expect(await (await connect(1, '192.0.2.61')).waitClosed()).toBe(4423);
    await lockdown.set({ dropExisting: true, reason: 'incident' });
    expect(await host.waitClosed(2000)).toBe(4423);
    await lockdown.clear();
    await new Promise((r) => setTimeout(r, 1000));
    await admitted(await connect(1, '192.0.2.62'));
  });

  it('refuses cross-site pages (4406) but not allowed or same-origin ones, nor native clients', async () => {
    const evil = await connect(0, '192.0.2.70', { origin: 'https://evil.example' });
    expect(await evil.waitClosed()).toBe(4406);
    await admitted(await connect(0, '192.0.2.70', { origin: 'https://app.example.com' }));
    await admitted(await connect(0, '192.0.2.70', { origin: `http://127.0.0.1:${ports[0]}` }));
    await admitted(await connect(0, '192.0.2.71'));
  });

  it('bans and locks down through the CLI, each change in the audit trail', async () => {
    const c = await connect(1, '198.51.100.20');
    await admitted(c);
    const add = await runCli(
      ['bans', 'add', '198.51.100.0/24', '--ttl', '1h', '--reason', 'scanner'],
      env,
      dir.path,
    );
    expect(add.stdout).toMatch(/^banned 198\.51\.100\.0\/24 until /);
    expect(await c.waitClosed(2000)).toBe(4451);
    expect((await runCli(['bans', 'list'], env, dir.path)).stdout).toContain('198.51.100.0/24');
    const bad = await runCli(['bans', 'add', '10.1.2.3/8'], env, dir.path);
    expect(bad.code).toBe(2);
    expect((await runCli(['bans', 'remove', '198.51.100.0/24'], env, dir.path)).code).toBe(0);
    const after = await connect(1, '198.51.100.21');
    await admitted(after);
    expect(
      (await runCli(['lockdown', 'on', '--drop-existing', '--reason', 'drill'], env, dir.path))
        .code,
    ).toBe(0);
    expect(await after.waitClosed(2000)).toBe(4423);
    expect((await runCli(['lockdown', 'status'], env, dir.path)).stdout).toMatch(/^lockdown on/);
    expect((await runCli(['lockdown', 'off'], env, dir.path)).code).toBe(0);
    const types = await db.query<{ type: string }>(
      `SELECT type FROM "${db.schema}".events WHERE type IN ('ban.added','ban.removed','lockdown.enabled','lockdown.disabled') ORDER BY position`,
    );
    expect(types.rows.map((r) => r.type)).toEqual([
      'ban.added',
      'ban.removed',
      'lockdown.enabled',
      'lockdown.disabled',
    ]);
  }, 60_000);

  it('limits open connections per address (4429) and frees the place when one closes', async () => {
    const held = [];
    for (let i = 0; i < 3; i++) {
      const c = await connect(0, '192.0.2.80');
      await admitted(c);
      held.push(c);
    }
    const fourth = await connect(0, '192.0.2.80');
    expect(await fourth.waitClosed()).toBe(4429);
    expect(fourth.closeReason).toBe('concurrent_connections');
    // Per instance: the other instance still admits the address.
    await admitted(await connect(1, '192.0.2.80'));
    held[0]!.close();
    await held[0]!.waitClosed();
    await new Promise((r) => setTimeout(r, 200));
    await admitted(await connect(0, '192.0.2.80'));
  });
});
