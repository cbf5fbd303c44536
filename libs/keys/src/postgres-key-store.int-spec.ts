import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import {
  createTestPostgresSchema,
  describeKeyStoreContract,
  testRingDocument,
} from '@sscontrol/testing';
import { KeysErrorCode } from './keys.errors.js';
import { PostgresKeyStore } from './postgres-key-store.js';

/** A migrated schema of its own and two instances (each with its own pool, as two processes). */
async function instances(options: { migrate?: boolean } = {}) {
  const db = await createTestPostgresSchema(options);
  const pools = [1, 2].map(() => {
    const pool = new pg.Pool({ connectionString: db.url, max: 4 });
    pool.on('error', () => undefined);
    return pool;
  });
  return {
    db,
    store: new PostgresKeyStore({ pool: pools[0]!, schema: db.schema }),
    second: new PostgresKeyStore({ pool: pools[1]!, schema: db.schema }),
    async writeRaw(text: string) {
      const version = (JSON.parse(text) as { version?: unknown }).version;
      await db.query(
        `INSERT INTO "${db.schema}".keyring (id, version, document) VALUES (1, $1, $2::jsonb)
         ON CONFLICT (id) DO UPDATE SET version = excluded.version, document = excluded.document`,
        [typeof version === 'number' ? version : 1, text],
      );
    },
    async cleanup() {
      await Promise.all(pools.map((p) => p.end()));
      await db.drop();
    },
  };
}

describeKeyStoreContract('postgres', () => instances());

describe('PostgresKeyStore', () => {
  it('refuses a schema that was not migrated, saying what to run', async () => {
    const { store, second, cleanup } = await instances({ migrate: false });
    try {
      for (const attempt of [
        store.read(),
        store.update(async () => ({ next: testRingDocument(1), result: null })),
      ]) {
        await expect(attempt).rejects.toMatchObject({
          code: KeysErrorCode.KeyStoreUnavailable,
          message: expect.stringContaining('run `sscontrol migrate`'),
        });
      }
    } finally {
      await store.close();
      await second.close();
      await cleanup();
    }
  });

  it('listens again after its connection is killed, and polls meanwhile', async () => {
    const { db, store, second, cleanup } = await instances();
    const listeners = async () =>
      (
        await db.query<{ pid: number }>(
          `SELECT pid FROM pg_stat_activity
           WHERE application_name = 'sscontrol-keyring-watch' AND query = $1`,
          [`LISTEN "${db.schema}.keyring"`],
        )
      ).rows.map((r) => r.pid);
    try {
      let calls = 0;
      const stop = second.watch(() => (calls += 1));
      let pids: number[] = [];
      for (let i = 0; i < 100 && pids.length === 0; i++) {
        await sleep(20);
        pids = await listeners();
      }
      expect(pids).toHaveLength(1);
      await db.query('SELECT pg_terminate_backend($1)', [pids[0]]);
      // Written while nobody listens: found by the poll or the check after reconnecting.
      await store.update(async () => ({ next: testRingDocument(1), result: null }));
      const written = Date.now();
      while (calls === 0 && Date.now() - written < 5_000) await sleep(5);
      expect(Date.now() - written).toBeLessThan(2_500);
      let again: number[] = [];
      for (let i = 0; i < 100 && !(again.length === 1 && again[0] !== pids[0]); i++) {
        await sleep(20);
        again = await listeners();
      }
      expect(again).toHaveLength(1);
      expect(again[0]).not.toBe(pids[0]);
      stop();
      for (let i = 0; i < 100 && (await listeners()).length > 0; i++) await sleep(20);
      expect(await listeners()).toEqual([]);
    } finally {
      await store.close();
      await second.close();
      await cleanup();
    }
  });
});
