import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadTestEnvironment } from '@sscontrol/config';
import { migratePostgres } from '@sscontrol/event-store';

/** A schema of its own in the test PostgreSQL, migrated, dropped by `drop()`. */
export interface TestPostgresSchema {
  readonly url: string;
  readonly schema: string;
  /** Runs SQL on the test database (for tests that tamper with stored rows). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(
    sql: string,
    params?: unknown[],
  ): Promise<pg.QueryResult<R>>;
  drop(): Promise<void>;
}

/** Creates and migrates a uniquely named schema (`t_<random>`) in `TEST_POSTGRES_URL`. */
export async function createTestPostgresSchema(
  options: { migrate?: boolean } = {},
): Promise<TestPostgresSchema> {
  const { postgresUrl } = loadTestEnvironment();
  const schema = `t_${randomBytes(6).toString('hex')}`;
  if (options.migrate !== false) await migratePostgres(postgresUrl, schema);
  const pool = new pg.Pool({ connectionString: postgresUrl, max: 2 });
  pool.on('error', () => undefined);
  return {
    url: postgresUrl,
    schema,
    query: (sql, params) => pool.query(sql, params),
    async drop() {
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}
