import path from 'node:path';
import { Redis } from 'ioredis';
import { AuditErrorCode, AuditRecorder, decodeAuditEvent } from '@sscontrol/audit';
import { createSqliteEventStore, type EventStore } from '@sscontrol/event-store';
import {
  collect,
  startRedisServer,
  startTurnServer,
  tempDir,
  turnAllocate,
  type TestRedisServer,
} from '@sscontrol/testing';
import { authenticateApiKey } from './api-keys.js';
import { ClientTokens } from './client-tokens.js';
import { FileKeyStore } from './file-key-store.js';
import { KeyManager } from './key-manager.js';
import { Keyring } from './keyring.js';
import { KeysErrorCode } from './keys.errors.js';
import { MasterKey } from './master-key.js';
import { RedisKeyStore } from './redis-key-store.js';
import { turnRestCredential } from './turn-credentials.js';
import { TurnSecretSet } from './turn-secret-set.js';

const source = { service: 'cli' as const, instance: 'test', version: '0.0.0' };
const context = { actor: { type: 'operator' as const, id: 'tester' } };
const GRACE = 60_000;

describe('KeyManager (file key store, SQLite audit trail, coturn secret set in a real Redis)', () => {
  let dir: ReturnType<typeof tempDir>;
  let redis: TestRedisServer;
  let client: Redis;
  let store: EventStore;
  let ring: Keyring;
  let manager: KeyManager;
  let turnSet: TurnSecretSet;
  let clock: number;

  async function events(type?: string) {
    const all = await collect(store.readAll());
    return all.map((e) => decodeAuditEvent(e)).filter((e) => !type || e.type === type);
  }

  beforeAll(async () => {
    redis = await startRedisServer();
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });

  afterAll(async () => {
    client.disconnect();
    await redis.remove();
  });

  beforeEach(async () => {
    dir = tempDir();
    await client.flushall();
    clock = Date.parse('2026-11-25T12:00:00Z');
    store = await createSqliteEventStore({ path: path.join(dir.path, 'events.db') });
    const recorder = new AuditRecorder({ store, source });
    const masterKey = MasterKey.parse(MasterKey.generate());
    ring = await Keyring.open({
      store: new FileKeyStore({ file: path.join(dir.path, 'keyring.json') }),
      masterKey,
      now: () => clock,
      watch: false,
    });
    turnSet = new TurnSecretSet(client, 'sscontrol.test');
    manager = new KeyManager({
      keyring: ring,
      recorder,
      appliers: [{ kind: 'turn-secret', apply: async (s) => void (await turnSet.reconcile(s)) }],
      defaultGraceMs: {
        'client-token': GRACE,
        'turn-secret': GRACE,
        'operator-api': GRACE,
        'redis-password': GRACE,
        'audit-checkpoint': 0,
      },
    });
    await manager.ensureInitialKeys(context);
  });

  afterEach(async () => {
    ring.close();
    await store.close().catch(() => undefined);
    dir.remove();
  });

  it("creates the initial keys once, recorded, with the TURN secret in coturn's set", async () => {
    expect(ring.list().map((k) => [k.kind, k.status])).toEqual(
      expect.arrayContaining([
        ['client-token', 'active'],
        ['turn-secret', 'active'],
      ]),
    );
    expect(await manager.ensureInitialKeys(context)).toEqual([]);
    expect((await events('key.created')).length).toBe(2);
    expect(await turnSet.count()).toBe(1);
    expect(await turnSet.has(ring.requireActive('turn-secret').material.toString())).toBe(true);
  });

  it('rotates with a grace period: the old key verifies until it ends, then is refused and retired', async () => {
    const tokens = new ClientTokens(ring);
    const old = await tokens.mint({
      subject: 'dev-1',
      role: 'host',
      sessions: ['s1'],
      ttlSeconds: 3600,
    });
    const [result] = await manager.rotate(
      { kinds: ['client-token'], reason: 'scheduled' },
      context,
    );
    expect(result!.replaced[0]!.id).toBe(old.keyId);
    expect(ring.statusOf(old.keyId)).toBe('retiring');
    const fresh = await tokens.mint({
      subject: 'dev-2',
      role: 'host',
      sessions: ['s1'],
      ttlSeconds: 3600,
    });
    expect(fresh.keyId).toBe(result!.created[0]!.id);
    expect(tokens.verify(old.token).subject).toBe('dev-1');
    expect(tokens.verify(fresh.token).subject).toBe('dev-2');

    const rotated = (await events('key.rotated'))[0]!;
    expect(rotated.data).toMatchObject({
      kind: 'client-token',
      previous: { keyId: old.keyId, fingerprint: old.keyFingerprint },
      next: { keyId: fresh.keyId },
      graceMs: GRACE,
      immediate: false,
      reason: 'scheduled',
    });

    clock += GRACE;
    // No sweep has run: the status comes from the key's times, on every instance at once.
    expect(() => tokens.verify(old.token)).toThrow(
      expect.objectContaining({ code: KeysErrorCode.TokenKeyRetired }),
    );
    expect((await manager.sweep(context)).retired.map((k) => k.id)).toEqual([old.keyId]);
    expect((await events('key.retired')).map((e) => (e.data as { keyId: string }).keyId)).toEqual([
      old.keyId,
    ]);
    expect((await manager.sweep(context)).retired).toEqual([]);
  });

  it("keeps the old TURN secret in coturn's set for the grace, then removes it", async () => {
    const oldSecret = ring.requireActive('turn-secret').material.toString();
    await manager.rotate({ kinds: ['turn-secret'] }, context);
    const newSecret = ring.requireActive('turn-secret').material.toString();
    expect(newSecret).not.toBe(oldSecret);
    expect(await turnSet.has(oldSecret)).toBe(true);
    expect(await turnSet.has(newSecret)).toBe(true);
    clock += GRACE;
    await manager.sweep(context);
    expect(await turnSet.has(oldSecret)).toBe(false);
    expect(await turnSet.count()).toBe(1);
  });

  it('TURN rotation against a real turnserver: old credentials work during the grace and fail after it', async () => {
    const turn = await startTurnServer({ redisPort: redis.port, realm: 'sscontrol.test' });
    try {
      const allocate = (secret: Buffer) => {
        const { username, credential } = turnRestCredential(secret, 'peer-1', 600);
        return turnAllocate({ host: turn.host, port: turn.port, username, credential });
      };
      const old = ring.requireActive('turn-secret').material;
      expect(await allocate(old)).toMatchObject({ ok: true });
      await manager.rotate({ kinds: ['turn-secret'] }, context);
      const fresh = ring.requireActive('turn-secret').material;
      expect(await allocate(old)).toMatchObject({ ok: true });
      expect(await allocate(fresh)).toMatchObject({ ok: true });
      clock += GRACE;
      await manager.sweep(context);
      expect(await allocate(old)).toMatchObject({ ok: false, errorCode: 401 });
      expect(await allocate(fresh)).toMatchObject({ ok: true });
    } finally {
      await turn.stop();
    }
  });

  it('--immediate revokes at once, records it, and removes the TURN secret now', async () => {
    const tokens = new ClientTokens(ring);
    const old = await tokens.mint({
      subject: 'dev-1',
      role: 'host',
      sessions: ['*'],
      ttlSeconds: 600,
    });
    const oldSecret = ring.requireActive('turn-secret').material.toString();
    const changes: string[][] = [];
    ring.on('changed', (c) => changes.push(c.revokedKeys.map((k) => k.id)));
    await manager.rotate(
      { kinds: ['client-token', 'turn-secret'], immediate: true, reason: 'breach' },
      context,
    );
    expect(() => tokens.verify(old.token)).toThrow(
      expect.objectContaining({ code: KeysErrorCode.TokenKeyRevoked }),
    );
    expect(changes.flat()).toContain(old.keyId);
    expect(await turnSet.has(oldSecret)).toBe(false);
    const revoked = await events('key.revoked');
    expect(revoked.map((e) => (e.data as { kind: string }).kind).sort()).toEqual([
      'client-token',
      'turn-secret',
    ]);
  });

  it('fails closed: when the audit trail cannot record, nothing changes and the extra TURN secret is taken back', async () => {
    const before = ring.version;
    const active = ring.requireActive('client-token').record.id;
    await store.close();
    await expect(
      manager.rotate({ kinds: ['client-token', 'turn-secret'] }, context),
    ).rejects.toMatchObject({
      code: AuditErrorCode.Unavailable,
    });
    const reread = await ring.store.read();
    expect(reread!.version).toBe(before);
    expect(ring.requireActive('client-token').record.id).toBe(active);
    // The new TURN secret was offered to coturn before the audit failed; reconcile takes it back.
    await manager.reconcile();
    expect(await turnSet.count()).toBe(1);
    expect(await turnSet.has(ring.requireActive('turn-secret').material.toString())).toBe(true);
  });

  it('refuses a rotation coturn cannot follow (secret_sync_failed): nothing recorded, nothing written', async () => {
    const before = ring.version;
    const recorded = (await events()).length;
    await redis.stop();
    try {
      await expect(manager.rotate({ kinds: ['turn-secret'] }, context)).rejects.toMatchObject({
        code: KeysErrorCode.SecretSyncFailed,
      });
    } finally {
      await redis.restart();
    }
    expect((await ring.store.read())!.version).toBe(before);
    expect((await events()).length).toBe(recorded);
  });

  it('revoking the active key puts a replacement in its place', async () => {
    const active = ring.requireActive('client-token').record;
    await manager.revokeKey(active.id, 'leaked', context);
    const next = ring.requireActive('client-token').record;
    expect(next.id).not.toBe(active.id);
    expect(next.replaces).toBe(active.id);
    expect(ring.statusOf(active.id)).toBe('revoked');
    expect((await events('key.rotated')).at(-1)!.data).toMatchObject({
      immediate: true,
      reason: 'leaked',
    });
    await expect(manager.revokeKey(active.id, undefined, context)).rejects.toMatchObject({
      code: KeysErrorCode.KeyNotUsable,
    });
  });

  it('does not need coturn for changes that do not touch the TURN secret', async () => {
    await redis.stop();
    try {
      const issued = await manager.createApiKey(
        { label: 'while-redis-down', role: 'auditor' },
        context,
      );
      expect(authenticateApiKey(ring, issued.apiKey).role).toBe('auditor');
      await manager.rotate({ kinds: ['client-token'] }, context);
    } finally {
      await redis.restart();
    }
  });

  it('--immediate also cuts off keys still in an earlier grace period', async () => {
    const first = ring.requireActive('client-token').record.id;
    await manager.rotate({ kinds: ['client-token'] }, context);
    expect(ring.statusOf(first)).toBe('retiring');
    await manager.rotate({ kinds: ['client-token'], immediate: true }, context);
    expect(ring.statusOf(first)).toBe('revoked');
  });

  it('revokes token ids until they expire, then forgets them', async () => {
    const tokens = new ClientTokens(ring);
    const t = await tokens.mint({
      subject: 'dev-1',
      role: 'controller',
      sessions: ['s1'],
      ttlSeconds: 60,
    });
    await manager.revokeToken(
      { tokenId: t.tokenId, expiresAt: t.expiresAt, reason: 'lost' },
      context,
    );
    expect(() => tokens.verify(t.token)).toThrow(
      expect.objectContaining({ code: KeysErrorCode.TokenRevoked }),
    );
    expect((await events('token.revoked'))[0]!.data).toMatchObject({
      tokenId: t.tokenId,
      reason: 'lost',
    });
    clock += 61_000;
    await manager.sweep(context);
    // Kept for the largest clock skew a verifier may allow, then forgotten.
    expect(ring.document!.revokedTokens).toHaveLength(1);
    clock += 5 * 60_000;
    await manager.sweep(context);
    expect(ring.document!.revokedTokens).toEqual([]);
  });

  it('issues operator API keys shown once, stored hashed; rotation replaces them with the same role', async () => {
    const issued = await manager.createApiKey({ label: 'ops', role: 'operator' }, context);
    expect(authenticateApiKey(ring, issued.apiKey)).toMatchObject({
      role: 'operator',
      label: 'ops',
    });
    expect(JSON.stringify(ring.document)).not.toContain(issued.apiKey.split('.')[1]);
    const [rotation] = await manager.rotate({ kinds: ['operator-api'] }, context);
    const next = rotation!.apiKeys[0]!;
    expect(next.key).toMatchObject({ role: 'operator', label: 'ops', replaces: issued.key.id });
    expect(authenticateApiKey(ring, issued.apiKey).keyId).toBe(issued.key.id); // grace
    expect(authenticateApiKey(ring, next.apiKey).keyId).toBe(next.key.id);
    await manager.revokeKey(next.key.id, 'leaked', context);
    expect(() => authenticateApiKey(ring, next.apiKey)).toThrow(
      expect.objectContaining({ code: KeysErrorCode.ApiKeyRevoked }),
    );
    expect(() => authenticateApiKey(ring, `${issued.apiKey.slice(0, -1)}x`)).toThrow(
      expect.objectContaining({ code: KeysErrorCode.ApiKeyInvalid }),
    );
    clock += GRACE;
    expect(() => authenticateApiKey(ring, issued.apiKey)).toThrow(
      expect.objectContaining({ code: KeysErrorCode.ApiKeyExpired }),
    );
  });

  it('puts no secret material in any event: fingerprints only', async () => {
    const issued = await manager.createApiKey({ label: 'ops', role: 'admin' }, context);
    await manager.rotate(
      { kinds: ['client-token', 'turn-secret', 'operator-api'], immediate: true },
      context,
    );
    const secrets = ring.document!.keys.flatMap((k) => {
      if (!k.sealed) return [];
      const m = ring.masterKey.open(k.sealed, `${k.kind}/${k.id}`);
      return [m.toString('base64'), m.toString('base64url'), m.toString('hex'), m.toString('utf8')];
    });
    secrets.push(issued.apiKey, issued.apiKey.split('.')[1]!);
    const raw = (await collect(store.readAll())).map((e) => JSON.stringify(e)).join('\n');
    for (const secret of secrets) if (secret.length >= 16) expect(raw).not.toContain(secret);
    expect(raw).toContain(ring.requireActive('client-token').record.fingerprint);
  });

  it('refuses to rotate the Redis password while the key store is Redis itself', async () => {
    const redisRing = await Keyring.open({
      store: new RedisKeyStore({ client, prefix: 'test:keyring' }),
      masterKey: ring.masterKey,
      watch: false,
    });
    const m = new KeyManager({
      keyring: redisRing,
      recorder: new AuditRecorder({ store, source }),
      appliers: [{ kind: 'redis-password', apply: () => Promise.resolve() }],
      defaultGraceMs: {
        'client-token': 1,
        'turn-secret': 1,
        'operator-api': 1,
        'redis-password': 1,
        'audit-checkpoint': 0,
      },
    });
    await expect(m.rotate({ kinds: ['redis-password'] }, context)).rejects.toMatchObject({
      code: KeysErrorCode.KeyStoreUnsuitable,
    });
    redisRing.close();
  });
});
