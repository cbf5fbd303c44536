import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { startRedisServer, type TestRedisServer } from '@sscontrol/testing';
import {
  RedisPasswordErrorCode,
  aclPasswordHash,
  parseAclGetUserReply,
  reconcileAclPasswords,
} from './redis-acl-passwords.js';
import { RedisConnection, applyPassword } from './redis-connection.js';

const secret = (label: string) => `${label}-${randomBytes(12).toString('hex')}`;

/** PONG, or the error a fresh connection gets when it authenticates as `username`. */
async function freshConnection(port: number, username: string, password: string): Promise<string> {
  const client = new Redis(`redis://127.0.0.1:${port}`, {
    username,
    password,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // ioredis rejects connect() with "Connection is closed."; the server's reason comes as an event.
  const reasons: string[] = [];
  client.on('error', (error: Error) => reasons.push(error.message));
  try {
    await client.connect();
    return await client.ping();
  } catch (error) {
    return reasons[0] ?? (error as Error).message;
  } finally {
    client.disconnect();
  }
}

async function passwordHashes(admin: Redis, username: string): Promise<readonly string[]> {
  return parseAclGetUserReply(await admin.call('ACL', 'GETUSER', username))?.passwordHashes ?? [];
}

/** What one stand-in process's command loop saw. */
interface LoopStats {
  readonly acked: number[];
  readonly errors: { readonly duringKill: boolean; readonly message: string }[];
}

/** INCRs `key` back to back, as a busy process would, until stopped. */
function incrLoop(conn: RedisConnection, key: string, killing: () => boolean) {
  const stats: LoopStats = { acked: [], errors: [] };
  let running = true;
  const done = (async () => {
    while (running) {
      try {
        stats.acked.push(await conn.client.incr(key));
      } catch (error) {
        stats.errors.push({ duringKill: killing(), message: (error as Error).message });
        // Fail-fast rejections settle in microtasks; yield so that the reconnect timer can run.
        await sleep(1);
      }
    }
  })();
  return {
    stats,
    async stop(): Promise<LoopStats> {
      running = false;
      await done;
      return stats;
    },
  };
}

/**
 * The client's next `ready`, failing after 5 s (e.g. when it reconnects with a removed password).
 * Unlike `events.once`, the ECONNRESET a kill may cause does not reject it.
 */
function nextReady(client: Redis): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no ready within 5 s')), 5000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

async function clientId(conn: RedisConnection): Promise<number> {
  return Number(await conn.client.client('ID'));
}

describe('ACL password rotation', () => {
  describe('of an application user', () => {
    const OLD = secret('old');
    const NEW = secret('new');
    let redis: TestRedisServer;
    let admin: Redis;
    const conns: RedisConnection[] = [];
    const loops: ReturnType<typeof incrLoop>[] = [];

    beforeAll(async () => {
      redis = await startRedisServer();
      admin = new Redis(redis.url);
      await admin.call('ACL', 'SETUSER', 'sscontrol', 'on', `>${OLD}`, '~*', '&*', '+@all');
      await admin.call('ACL', 'SETUSER', 'redact', 'on', '>redact-pw', '~*', '+@all');
    });

    afterAll(async () => {
      await Promise.all(loops.map((l) => l.stop()));
      await Promise.all(conns.map((c) => c.close()));
      admin.disconnect();
      await redis.remove();
    });

    it('switches two busy processes from OLD to NEW with no failed or lost command', async () => {
      // One process has the password in its URL, the other in the `password` option.
      conns.push(
        new RedisConnection({
          url: `redis://sscontrol:${encodeURIComponent(OLD)}@127.0.0.1:${redis.port}`,
          name: 'rotation-a',
          maxRetryDelayMs: 50,
        }),
        new RedisConnection({
          url: `redis://sscontrol@127.0.0.1:${redis.port}`,
          password: OLD,
          name: 'rotation-b',
          maxRetryDelayMs: 50,
        }),
      );
      for (const conn of conns) expect(await conn.start()).toBe('ready');
      expect(conns.map((c) => c.username)).toEqual(['sscontrol', 'sscontrol']);
      const idsBefore = await Promise.all(conns.map(clientId));

      let killing = false;
      const key = `rotation-${randomBytes(4).toString('hex')}`;
      loops.push(...conns.map((c) => incrLoop(c, key, () => killing)));
      const acked = () => loops.map((l) => l.stats.acked.length);
      const keepsWorking = async () => {
        const before = acked();
        await sleep(100);
        acked().forEach((n, i) => expect(n).toBeGreaterThan(before[i] ?? 0));
      };
      await keepsWorking();

      // Given both passwords are accepted …
      expect(await reconcileAclPasswords(admin, 'sscontrol', [OLD, NEW])).toEqual({
        added: 1,
        removed: 0,
      });
      expect(await freshConnection(redis.port, 'sscontrol', OLD)).toBe('PONG');
      expect(await freshConnection(redis.port, 'sscontrol', NEW)).toBe('PONG');

      // … when each process switches, it does so on its live connection …
      await Promise.all(conns.map((c) => c.switchPassword(NEW)));
      expect(await Promise.all(conns.map(clientId))).toEqual(idsBefore);
      await keepsWorking();

      // … and a wrong password is refused without being adopted or echoed.
      const WRONG = secret('wrong');
      const refused = await conns[0]!.switchPassword(WRONG).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: RedisPasswordErrorCode.AuthFailed });
      expect(inspect(refused)).not.toContain(WRONG);
      expect((refused as Error).message).toMatch(/WRONGPASS/);

      // Then OLD can go: it no longer authenticates, NEW does.
      expect(await reconcileAclPasswords(admin, 'sscontrol', [NEW])).toEqual({
        added: 0,
        removed: 1,
      });
      expect(await reconcileAclPasswords(admin, 'sscontrol', [NEW])).toEqual({
        added: 0,
        removed: 0,
      });
      expect(await passwordHashes(admin, 'sscontrol')).toEqual([aclPasswordHash(NEW)]);
      expect(await freshConnection(redis.port, 'sscontrol', OLD)).toMatch(/^WRONGPASS/);
      expect(await freshConnection(redis.port, 'sscontrol', NEW)).toBe('PONG');
      // Redis 7.0 leaves connections authenticated with a removed password alone.
      expect(await Promise.all(conns.map(clientId))).toEqual(idsBefore);
      await keepsWorking();

      // Forced reconnects authenticate with NEW by themselves.
      const reconnected = conns.map((c) => nextReady(c.client));
      killing = true;
      expect(await admin.call('CLIENT', 'KILL', 'USER', 'sscontrol')).toBe(2);
      await Promise.all(reconnected);
      killing = false;
      const idsAfter = await Promise.all(conns.map(clientId));
      idsAfter.forEach((id, i) => expect(id).not.toBe(idsBefore[i]));
      await keepsWorking();

      const stats = await Promise.all(loops.map((l) => l.stop()));
      const errors = stats.flatMap((s) => s.errors);
      expect(errors.filter((e) => !e.duringKill)).toEqual([]);
      const allAcked = stats.flatMap((s) => s.acked);
      // INCR replies are unique counter values, so a duplicate would be a double-acknowledged one.
      expect(new Set(allAcked).size).toBe(allAcked.length);
      const final = Number(await admin.get(key));
      expect(Math.max(...allAcked)).toBeLessThanOrEqual(final);
      expect(final).toBeGreaterThanOrEqual(allAcked.length);
      // Above the acknowledged count only by commands whose reply the kill cut off: ones that
      // failed, and at most one in flight per connection that ioredis then sent again.
      expect(final).toBeLessThanOrEqual(allAcked.length + errors.length + conns.length);
    });

    it('refuses an empty password list, an empty password and an unknown user', async () => {
      await expect(reconcileAclPasswords(admin, 'sscontrol', [])).rejects.toMatchObject({
        code: RedisPasswordErrorCode.EmptyPasswordList,
      });
      await expect(reconcileAclPasswords(admin, 'sscontrol', ['x', ''])).rejects.toMatchObject({
        code: RedisPasswordErrorCode.EmptyPasswordList,
      });
      await expect(reconcileAclPasswords(admin, 'nobody', ['x'])).rejects.toMatchObject({
        code: RedisPasswordErrorCode.UnknownUser,
      });
      expect(await admin.call('ACL', 'GETUSER', 'nobody')).toBeNull();
    });

    it('fails as a whole and names no secret when ACL SETUSER fails', async () => {
      const ADDED = secret('added');
      const ghost = aclPasswordHash(secret('ghost'));
      // A reply read before someone else removed `ghost`: removing it again fails in Redis,
      // which echoes the failing modifier.
      const stale = ['flags', ['on'], 'passwords', [aclPasswordHash('redact-pw'), ghost]];
      const racing = {
        call: (...args: [string, ...string[]]) =>
          args[1] === 'GETUSER' ? Promise.resolve(stale) : admin.call(...args),
      } as unknown as Redis;
      const error = await reconcileAclPasswords(racing, 'redact', ['redact-pw', ADDED]).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ code: RedisPasswordErrorCode.AclCommandFailed });
      const shown = `${(error as Error).message}\n${inspect(error)}`;
      expect(shown).toMatch(/does not exist/);
      for (const s of [ADDED, aclPasswordHash(ADDED), ghost, 'redact-pw']) {
        expect(shown).not.toContain(s);
      }
      // The add before the failing remove was not applied either: SETUSER is all or nothing.
      expect(await passwordHashes(admin, 'redact')).toEqual([aclPasswordHash('redact-pw')]);
    });
  });

  describe('of the default user (requirepass)', () => {
    const OLD = secret('old');
    const NEW = secret('new');
    let redis: TestRedisServer;

    beforeAll(async () => {
      redis = await startRedisServer({ password: OLD });
    });

    afterAll(async () => {
      await redis.remove();
    });

    it('rotates it, for RedisConnection and any other ioredis client', async () => {
      const admin = new Redis(redis.url);
      const conn = new RedisConnection({ url: redis.url, name: 'rotation-default' });
      try {
        expect(await conn.start()).toBe('ready');
        expect(conn.username).toBe('default');

        expect(await reconcileAclPasswords(admin, 'default', [OLD, NEW])).toEqual({
          added: 1,
          removed: 0,
        });
        await conn.switchPassword(NEW);
        await applyPassword(admin, NEW);
        expect(await reconcileAclPasswords(admin, 'default', [NEW])).toEqual({
          added: 0,
          removed: 1,
        });

        expect(await freshConnection(redis.port, 'default', OLD)).toMatch(/^WRONGPASS/);
        expect(await freshConnection(redis.port, 'default', NEW)).toBe('PONG');
        const user = parseAclGetUserReply(await admin.call('ACL', 'GETUSER', 'default'));
        expect(user?.flags).not.toContain('nopass');
        expect(user?.passwordHashes).toEqual([aclPasswordHash(NEW)]);

        const reconnected = Promise.all([nextReady(conn.client), nextReady(admin)]);
        // SKIPME no: by default CLIENT KILL with filters spares the connection that sends it.
        expect(await admin.call('CLIENT', 'KILL', 'USER', 'default', 'SKIPME', 'no')).toBe(2);
        await reconnected;
        expect(await conn.client.ping()).toBe('PONG');
        expect(await admin.ping()).toBe('PONG');
      } finally {
        await conn.close();
        admin.disconnect();
      }
    });
  });
});
