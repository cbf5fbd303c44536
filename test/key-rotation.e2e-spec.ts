import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { decodeAuditEvent } from '@sscontrol/audit';
import { createPostgresEventStore } from '@sscontrol/event-store';
import postgres from 'pg';
import { aadOf, Keyring, MasterKey, PostgresKeyStore } from '@sscontrol/keys';
import {
  collect,
  createTestPostgresSchema,
  freePort,
  runCli,
  startRedisServer,
  startService,
  tempDir,
  type ServiceProcess,
  type TestPostgresSchema,
  type TestRedisServer,
} from '@sscontrol/testing';

/**
 * The runbook's breach rotation against a running cluster: a control process and two gateway
 * instances sharing a PostgreSQL event store and key store and a password-protected Redis.
 * Clients keep connecting, with freshly minted and older tokens, while `sscontrol keys rotate
 * --all` runs: none is refused. Then `--immediate`: every connection of the old key is cut off
 * on both instances within a second, and its tokens are refused everywhere.
 */
const REDIS_PASSWORD = 'initial-redis-password-0123456789';

interface Outcome {
  readonly ok: boolean;
  readonly code?: number;
  readonly reason?: string;
  readonly instance?: string;
}

function connect(
  port: number,
  token: string,
  hold = false,
): Promise<Outcome & { socket?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`, [
      'sscontrol.v1',
      `sscontrol.token.${token}`,
    ]);
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('no answer within 10 s'));
    }, 10_000);
    socket.on('message', (raw: Buffer) => {
      const m = JSON.parse(raw.toString()) as { event: string; data: { instance: string } };
      if (m.event !== 'welcome') return;
      clearTimeout(timer);
      if (!hold) socket.close(1000);
      resolve({ ok: true, instance: m.data.instance, ...(hold ? { socket } : {}) });
    });
    socket.on('close', (code: number, reason: Buffer) => {
      clearTimeout(timer);
      resolve({ ok: false, code, reason: reason.toString() });
    });
    socket.on('error', () => undefined);
  });
}

/** Redis's raw answer to `AUTH default <password>` on a fresh connection. */
function authReply(port: number, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.write(`AUTH default ${password}\r\n`),
    );
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', reject);
  });
}

describe('key rotation under load, two gateway instances', () => {
  let dir: ReturnType<typeof tempDir>;
  let redis: TestRedisServer;
  let pg: TestPostgresSchema;
  let env: Record<string, string>;
  let control: ServiceProcess;
  const gateways: { port: number; process: ServiceProcess; instance: string }[] = [];
  let issuerKey: string;
  const secretsSeen = new Set<string>();

  async function cli(...args: string[]) {
    const r = await runCli(args, env, dir.path);
    if (r.code !== 0) throw new Error(`sscontrol ${args.join(' ')} → ${r.code}\n${r.stderr}`);
    return r.stdout;
  }

  async function mint(
    subject: string,
  ): Promise<{ token: string; keyId: string; tokenId: string; expiresAt: string }> {
    const res = await fetch(`http://127.0.0.1:${env.CONTROL_PORT}/v1/client-tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${issuerKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject, role: 'controller', sessions: ['s1'], ttl: '10m' }),
    });
    if (res.status !== 201) throw new Error(`mint → ${res.status} ${await res.text()}`);
    const body = (await res.json()) as {
      token: string;
      keyId: string;
      tokenId: string;
      expiresAt: string;
    };
    secretsSeen.add(body.token);
    return body;
  }

  beforeAll(async () => {
    dir = tempDir();
    redis = await startRedisServer({ password: REDIS_PASSWORD });
    pg = await createTestPostgresSchema();
    env = {
      SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
      SSCONTROL_MASTER_KEY: MasterKey.generate(),
      EVENT_STORE: 'postgres',
      EVENT_STORE_POSTGRES_URL: pg.url,
      EVENT_STORE_POSTGRES_SCHEMA: pg.schema,
      KEY_STORE: 'postgres',
      REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${redis.port}`,
      CONTROL_PORT: String(await freePort()),
      CONTROL_HOST: '127.0.0.1',
      SIGNALING_HOST: '127.0.0.1',
      // Hundreds of clients from one loopback address, by design of the test.
      SIGNALING_CONNECTION_RATE_PER_IP: '100000',
      SIGNALING_CONNECTIONS_PER_IP: '100000',
      TURN_REALM: 'sscontrol.test',
      TURN_URIS: 'turn:127.0.0.1:3478',
      AUDIT_CHECKPOINT_EVERY_MS: '1000',
    };
    secretsSeen.add(env.SSCONTROL_MASTER_KEY!);
    secretsSeen.add(REDIS_PASSWORD);
    await cli('migrate');
    const init = await cli('init');
    const admin = /^\s+(ssc_\S+)$/m.exec(init)![1]!;
    secretsSeen.add(admin);
    issuerKey = (await cli('api-keys', 'create', '--label', 'load', '--role', 'issuer'))
      .trim()
      .split('\n')
      .at(-1)!;
    secretsSeen.add(issuerKey);
    control = startService('control', env, dir.path);
    for (const name of ['gw-a', 'gw-b']) {
      const port = await freePort();
      const p = startService(
        'signaling',
        { ...env, SIGNALING_PORT: String(port), SSCONTROL_INSTANCE_ID: name },
        dir.path,
      );
      gateways.push({ port, process: p, instance: name });
    }
    await Promise.all([
      control.waitForLog((l) => String(l.msg).startsWith('control API listening')),
      ...gateways.map((g) =>
        g.process.waitForLog((l) => String(l.msg).startsWith('signaling gateway listening')),
      ),
    ]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all([control?.stop(), ...gateways.map((g) => g.process.stop())]);
    await pg?.drop();
    await redis?.remove();
    dir?.remove();
  });

  it('refuses no token, fresh or older, on either instance while `keys rotate --all` runs', async () => {
    const older = await Promise.all(Array.from({ length: 20 }, (_, i) => mint(`older-${i}`)));
    const oldKey = older[0]!.keyId;
    const outcomes: (Outcome & { fresh: boolean })[] = [];
    let stop = false;
    let n = 0;
    const worker = async () => {
      while (!stop) {
        const i = n++;
        const fresh = i % 2 === 0;
        const token = fresh ? (await mint(`fresh-${i}`)).token : older[i % older.length]!.token;
        const gateway = gateways[i % gateways.length]!;
        outcomes.push({ ...(await connect(gateway.port, token)), fresh });
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, worker));
    await sleep(1500);
    const rotation = await cli(
      'keys',
      'rotate',
      '--all',
      '--grace',
      '2m',
      '--reason',
      'breach drill',
    );
    await sleep(2000);
    stop = true;
    await load;

    expect(rotation).toContain('client-token:');
    expect(rotation).toContain('redis-password:');
    const refused = outcomes.filter((o) => !o.ok);
    expect(refused).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(50);
    expect(new Set(outcomes.map((o) => o.instance))).toEqual(new Set(['gw-a', 'gw-b']));
    // Fresh tokens after the rotation carry the new key; the older ones still work (grace).
    const after = await mint('after-rotation');
    expect(after.keyId).not.toBe(oldKey);
    for (const g of gateways) expect((await connect(g.port, older[0]!.token)).ok).toBe(true);
  }, 60_000);

  it('shows the rotation on every instance within a second of the ring being written', async () => {
    for (const g of gateways) {
      const line = await g.process.waitForLog(
        (l) => typeof l.keyringUpdatedAt === 'string' && Number(l.keyringVersion) >= 3,
      );
      const lag = Date.parse(String(line.time)) - Date.parse(String(line.keyringUpdatedAt));
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThan(1000);
    }
  });

  it('switched every process to the rotated Redis password; revoking the old one locks it out, not them', async () => {
    const list = JSON.parse(await cli('keys', 'list', '--json', '--kind', 'redis-password')) as {
      keys: { id: string; status: string }[];
    };
    expect(list.keys.map((k) => k.status).sort()).toEqual(['active', 'retiring']);
    const old = list.keys.find((k) => k.status === 'retiring')!;
    await cli('keys', 'revoke', old.id, '--reason', 'drill: end the grace now');
    expect(await authReply(redis.port, REDIS_PASSWORD)).toMatch(/^-WRONGPASS/);
    // Force every process to reconnect: they come back with the rotated password by themselves.
    const current = (await ringSecrets()).redisPassword;
    const admin = new Redis({ port: redis.port, password: current, maxRetriesPerRequest: 1 });
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
    await sleep(1500);
    const clients = String(await admin.client('LIST'));
    admin.disconnect();
    for (const name of [
      'sscontrol-signaling-gw-a',
      'sscontrol-signaling-gw-b',
      'sscontrol-control',
    ]) {
      expect(clients).toContain(name);
    }
    for (const port of [gateways[0]!.port, gateways[1]!.port, Number(env.CONTROL_PORT)]) {
      const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as {
        checks: { redis: { status: string } };
      };
      expect(health.checks.redis.status).toBe('up');
    }
  });

  it('--immediate cuts off every connection of the old key on both instances within a second, and refuses its tokens', async () => {
    const tokens = await Promise.all(Array.from({ length: 6 }, (_, i) => mint(`held-${i}`)));
    const held = await Promise.all(
      tokens.map((t, i) => connect(gateways[i % 2]!.port, t.token, true)),
    );
    expect(held.every((h) => h.ok)).toBe(true);
    const closedAt: number[] = [];
    const closes = held.map(
      (h) =>
        new Promise<{ code: number; reason: string }>((resolve) =>
          h.socket!.once('close', (code: number, reason: Buffer) => {
            closedAt.push(Date.now());
            resolve({ code, reason: reason.toString() });
          }),
        ),
    );
    await cli('keys', 'rotate', '--kind', 'client-token', '--immediate', '--reason', 'key leaked');
    const results = await Promise.race([
      Promise.all(closes),
      sleep(5000).then(() => {
        throw new Error('connections still open 5 s after the revocation');
      }),
    ]);
    expect(results.every((r) => r.code === 4404 && r.reason === 'key_revoked')).toBe(true);
    const ring = JSON.parse(await cli('keys', 'list', '--json', '--kind', 'client-token')) as {
      keys: { id: string; status: string; revokedAt: string | null }[];
    };
    const revoked = ring.keys.find((k) => k.id === tokens[0]!.keyId)!;
    expect(revoked.status).toBe('revoked');
    for (const t of closedAt) expect(t - Date.parse(revoked.revokedAt!)).toBeLessThan(1000);
    for (const g of gateways) {
      expect(await connect(g.port, tokens[0]!.token)).toMatchObject({
        ok: false,
        code: 4404,
        reason: 'key_revoked',
      });
    }
  }, 30_000);

  /** Every secret the ring holds or held, decrypted here with the master key. */
  async function ringSecrets(): Promise<{ all: string[]; redisPassword: string }> {
    const pool = new postgres.Pool({ connectionString: pg.url, max: 1 });
    const ring = await Keyring.open({
      store: new PostgresKeyStore({ pool, schema: pg.schema }),
      masterKey: MasterKey.parse(env.SSCONTROL_MASTER_KEY!),
      watch: false,
    });
    const all: string[] = [];
    for (const k of ring.document!.keys) {
      if (!k.sealed) continue;
      const m = ring.masterKey.open(k.sealed, aadOf(k));
      for (const form of [m.toString('base64'), m.toString('base64url'), m.toString('utf8')]) {
        if (/^[\x21-\x7e]{16,}$/.test(form)) all.push(form);
      }
    }
    const redisPassword = ring.requireActive('redis-password').material.toString('utf8');
    ring.close();
    await pool.end();
    return { all, redisPassword };
  }

  it('recorded every step, and no secret appears in any event or log line', async () => {
    for (const secret of (await ringSecrets()).all) secretsSeen.add(secret);
    const store = await createPostgresEventStore({ connectionString: pg.url, schema: pg.schema });
    let raw: string;
    let types: string[];
    try {
      const events = await collect(store.readAll());
      types = events.map((e) => decodeAuditEvent(e).type);
      raw = events.map((e) => JSON.stringify(e)).join('\n');
    } finally {
      await store.close();
    }
    expect(types).toEqual(
      expect.arrayContaining([
        'key.rotated',
        'key.revoked',
        'connection.opened',
        'connection.closed',
        'operator.actionPerformed',
      ]),
    );
    const logs = [control, ...gateways.map((g) => g.process)]
      .flatMap((p) => [...p.text, ...p.logs.map((l) => JSON.stringify(l))])
      .join('\n');
    for (const secret of secretsSeen) {
      expect(raw).not.toContain(secret);
      expect(logs).not.toContain(secret);
    }
  });
});
