import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import {
  startRedisServer,
  startTurnServer,
  turnAllocate,
  type TestRedisServer,
  type TestTurnServer,
} from '@sscontrol/testing';
import { turnRestCredential } from './turn-credentials.js';
import { TurnSecretSet } from './turn-secret-set.js';

// A real coturn (Debian's /usr/bin/turnserver, `apt-get install -y coturn`) reads its REST API
// secrets from a private Redis; every assertion is a real TURN Allocate over UDP. startTurnServer
// throws when coturn is missing, so the suite fails (it is never skipped).

const REALM = 'sscontrol.test';
const REDIS_DB = 2;
const OLD = `old-${randomBytes(16).toString('hex')}`;
const NEW = `new-${randomBytes(16).toString('hex')}`;

describe('TurnSecretSet against coturn', () => {
  const redisPassword = randomBytes(12).toString('hex');
  let redisServer: TestRedisServer | undefined;
  let turn: TestTurnServer | undefined;
  let redis: Redis | undefined;
  let secrets: TurnSecretSet;

  beforeAll(async () => {
    // coturn keeps one connection per thread for its lifetime (reference/ops.md §3.1).
    redisServer = await startRedisServer({
      password: redisPassword,
      args: ['--timeout', '0', '--tcp-keepalive', '60'],
    });
    redis = new Redis({
      host: '127.0.0.1',
      port: redisServer.port,
      password: redisPassword,
      db: REDIS_DB,
    });
    secrets = new TurnSecretSet(redis, REALM);
    turn = await startTurnServer({
      redisPort: redisServer.port,
      redisPassword,
      redisDb: REDIS_DB,
      realm: REALM,
    });
  });

  afterAll(async () => {
    await redis?.quit();
    await turn?.stop();
    await redisServer?.remove();
  });

  /** A real Allocate with a credential minted from `secret`. */
  function allocateWith(secret: string, options: { nowMs?: number; ttlSeconds?: number } = {}) {
    const { username, credential } = turnRestCredential(
      secret,
      'peer-1',
      options.ttlSeconds ?? 600,
      options.nowMs,
    );
    return turnAllocate({ host: turn!.host, port: turn!.port, username, credential });
  }

  const granted = { ok: true, relayedAddress: '127.0.0.1', relayedPort: expect.any(Number) };
  const refused = { ok: false, errorCode: 401, reason: expect.any(String) };

  it('grants a relay for a credential minted with the only secret in the set', async () => {
    await secrets.reconcile([OLD]);

    expect(await secrets.count()).toBe(1);
    expect(await allocateWith(OLD)).toEqual(granted);
  });

  it('accepts credentials of both secrets while both are in the set (grace period)', async () => {
    await secrets.reconcile([OLD]);

    const result = await secrets.reconcile([OLD, NEW]);

    expect(result).toEqual({ added: 1, removed: 0 });
    expect(await allocateWith(OLD)).toEqual(granted);
    expect(await allocateWith(NEW)).toEqual(granted);
  });

  it('refuses credentials of a secret as soon as it is removed, and still accepts the new one', async () => {
    await secrets.reconcile([OLD, NEW]);

    const result = await secrets.reconcile([NEW]);

    expect(result).toEqual({ added: 0, removed: 1 });
    expect(await secrets.has(OLD)).toBe(false);
    expect(await secrets.has(NEW)).toBe(true);
    // No polling: coturn 4.6.1 runs SMEMBERS on every authentication of a new client session
    // (dbd_redis.c redis_get_auth_secrets, no cache). Only a session that already authenticated
    // keeps its derived key (ns_turn_server.c check_stun_auth, `hmackey_set`): removing a secret
    // does not end allocations made before; each turnAllocate here is a new session.
    expect(await allocateWith(OLD)).toEqual(refused);
    expect(await allocateWith(NEW)).toEqual(granted);
  });

  it('replaces the whole set in one step and reports counts only', async () => {
    await secrets.reconcile([OLD]);

    const result = await secrets.reconcile([NEW, NEW]);

    expect(result).toEqual({ added: 1, removed: 1 });
    expect(JSON.stringify(result)).not.toMatch(/old-|new-/);
    expect(await redis!.smembers(secrets.key)).toEqual([NEW]);
    expect(await redis!.keys('*')).toEqual([secrets.key]);
    expect(await allocateWith(OLD)).toEqual(refused);
    expect(await allocateWith(NEW)).toEqual(granted);
  });

  it('refuses an expired credential minted with a secret in the set', async () => {
    await secrets.reconcile([NEW]);
    const anHourAgo = Date.now() - 3_600_000;

    expect(await allocateWith(NEW, { nowMs: anHourAgo, ttlSeconds: 60 })).toEqual(refused);
    expect(await allocateWith(NEW)).toEqual(granted);
  });

  it('refuses a credential minted with a secret that is not in the set', async () => {
    await secrets.reconcile([NEW]);

    expect(await allocateWith(`wrong-${randomBytes(16).toString('hex')}`)).toEqual(refused);
  });

  it('keeps secrets out of the errors it throws', async () => {
    const other = new TurnSecretSet(redis!, 'wrongtype.test');
    await redis!.set(other.key, 'not a set');

    const error = await other.reconcile([OLD]).then(
      () => null,
      (e: unknown) => e as Error,
    );

    expect(error).toBeInstanceOf(Error);
    expect(error!.message).toMatch(/WRONGTYPE/);
    const everything = JSON.stringify(error, Object.getOwnPropertyNames(error)) + String(error);
    expect(everything).not.toContain(OLD);
    await redis!.del(other.key);
  });

  it('refuses a malformed realm, a prefixed client, an empty set and unusable secrets', async () => {
    const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'sscontrol:' });
    try {
      expect(() => new TurnSecretSet(redis!, 'bad realm')).toThrow(RangeError);
      expect(() => new TurnSecretSet(redis!, 'a/b')).toThrow(RangeError);
      expect(() => new TurnSecretSet(redis!, 'x'.repeat(254))).toThrow(RangeError);
      expect(() => new TurnSecretSet(prefixed, REALM)).toThrow(/keyPrefix/);
    } finally {
      prefixed.disconnect();
    }
    await expect(secrets.reconcile([])).rejects.toThrow(/at least one secret/);
    await expect(secrets.reconcile([NEW, ''])).rejects.toThrow('TURN secret #1 is empty');
    const nul = await secrets.reconcile([`${OLD}\0`]).catch((e: unknown) => e as Error);
    expect((nul as Error).message).toBe('TURN secret #0 contains a NUL byte');
  });
});
