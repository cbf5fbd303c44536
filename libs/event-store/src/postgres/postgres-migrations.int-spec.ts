import pg from 'pg';
import { createTestPostgresSchema, type TestPostgresSchema } from '@sscontrol/testing';
import { EventStoreErrorCode } from '../event-store.errors.js';
import { createPostgresEventStore } from './postgres-event-store.js';
import { loadMigrations, migratePostgres } from './postgres-migrations.js';

describe('PostgreSQL migrations', () => {
  let db: TestPostgresSchema;

  beforeEach(async () => {
    db = await createTestPostgresSchema({ migrate: false });
  });
  afterEach(() => db.drop());

  it('apply every shipped migration once, even when several processes run them at once', async () => {
    const reports = await Promise.all([1, 2, 3].map(() => migratePostgres(db.url, db.schema)));
    const names = loadMigrations().map((m) => m.name);
    expect(reports.flatMap((r) => r.applied).sort()).toEqual(names);
    const again = await migratePostgres(db.url, db.schema);
    expect(again).toMatchObject({ applied: [], alreadyApplied: names });
    const rows = await db.query<{ version: number }>(
      `SELECT version FROM "${db.schema}".schema_migrations`,
    );
    expect(rows.rowCount).toBe(names.length);
  });

  it('the store refuses a schema that was not migrated, saying what to run', async () => {
    await expect(
      createPostgresEventStore({ connectionString: db.url, schema: db.schema }),
    ).rejects.toMatchObject({
      code: EventStoreErrorCode.Misconfigured,
      message: expect.stringContaining('run `sscontrol migrate`'),
    });
  });

  it('the store refuses a schema whose applied migration differs from the shipped file', async () => {
    await migratePostgres(db.url, db.schema);
    await db.query(`UPDATE "${db.schema}".schema_migrations SET checksum = repeat('0', 64)`);
    await expect(
      createPostgresEventStore({ connectionString: db.url, schema: db.schema }),
    ).rejects.toMatchObject({
      code: EventStoreErrorCode.Misconfigured,
    });
    await expect(migratePostgres(db.url, db.schema)).rejects.toMatchObject({
      code: EventStoreErrorCode.Misconfigured,
    });
  });

  it('the store refuses an unreachable server with event_store_unavailable, without its password', async () => {
    const url = 'postgres://sscontrol:pw-never-shown@127.0.0.1:1/db';
    const error = (await createPostgresEventStore({ connectionString: url, schema: 'x' }).catch(
      (e: unknown) => e,
    )) as Error & { code: string };
    expect(error.code).toBe(EventStoreErrorCode.Unavailable);
    expect(error.message).not.toContain('pw-never-shown');
  });

  it('computes the chain in SQL exactly as chain.ts does (checked by reading it back)', async () => {
    await migratePostgres(db.url, db.schema);
    const store = await createPostgresEventStore({ connectionString: db.url, schema: db.schema });
    await store.append('session-ü', [
      { type: 'session.opened', data: { note: 'naïve 🖥' }, metadata: { a: 'ж' } },
    ]);
    const { chainHash, genesisHash } = await import('../chain.js');
    for await (const page of store.readChain()) {
      expect(chainHash(genesisHash(store.info.storeId), page[0]!)).toBe(page[0]!.hash);
    }
    await store.close();
    void pg;
  });
});
