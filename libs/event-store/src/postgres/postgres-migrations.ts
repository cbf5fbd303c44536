import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { EventStoreError, EventStoreErrorCode } from '../event-store.errors.js';
import { packageRoot } from '../internal/package-root.js';

/** A migration file of `migrations/postgres`. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /** SHA-256 of the file as shipped. */
  readonly checksum: string;
}

/** What {@link migratePostgres} did. */
export interface MigrationReport {
  readonly schema: string;
  readonly applied: readonly string[];
  readonly alreadyApplied: readonly string[];
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

function checkSchema(schema: string): void {
  if (!IDENT.test(schema)) {
    throw new EventStoreError(
      EventStoreErrorCode.Misconfigured,
      `invalid schema name ${JSON.stringify(schema)}`,
    );
  }
}

/** The shipped migrations in version order. */
export function loadMigrations(
  dir = path.join(packageRoot(import.meta.url), 'migrations', 'postgres'),
): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const sql = readFileSync(path.join(dir, file), 'utf8');
      return {
        version: Number(file.slice(0, 4)),
        name: file.replace(/\.sql$/, ''),
        sql,
        checksum: createHash('sha256').update(sql).digest('hex'),
      };
    });
}

function render(sql: string, schema: string): string {
  return sql.replaceAll('${schema_literal}', `'${schema}'`).replaceAll('${schema}', `"${schema}"`);
}

async function appliedMigrations(
  client: pg.ClientBase,
  schema: string,
): Promise<Map<number, string> | null> {
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [
    `"${schema}".schema_migrations`,
  ]);
  if (!exists.rows[0]?.t) return null;
  const rows = await client.query<{ version: number; checksum: string }>(
    `SELECT version, checksum FROM "${schema}".schema_migrations ORDER BY version`,
  );
  return new Map(rows.rows.map((r) => [Number(r.version), r.checksum]));
}

/**
 * Applies pending migrations to `schema`, each in its own transaction, under an advisory lock so
 * that concurrent `sscontrol migrate` runs (several replicas starting) apply each file once.
 */
export async function migratePostgres(
  connectionString: string,
  schema: string,
): Promise<MigrationReport> {
  checkSchema(schema);
  const migrations = loadMigrations();
  const client = new pg.Client({ connectionString });
  await client.connect();
  const applied: string[] = [];
  const alreadyApplied: string[] = [];
  try {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [`sscontrol-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${schema}".schema_migrations (
         version integer PRIMARY KEY, name text NOT NULL, checksum char(64) NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = (await appliedMigrations(client, schema)) ?? new Map<number, string>();
    for (const m of migrations) {
      const checksum = done.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) {
          throw new EventStoreError(
            EventStoreErrorCode.Misconfigured,
            `migration ${m.name} was applied with checksum ${checksum} but the shipped file has ${m.checksum}`,
          );
        }
        alreadyApplied.push(m.name);
        continue;
      }
      await client.query('BEGIN');
      try {
        await client.query(render(m.sql, schema));
        await client.query(
          `INSERT INTO "${schema}".schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
          [m.version, m.name, m.checksum],
        );
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
      applied.push(m.name);
    }
  } finally {
    await client
      .query('SELECT pg_advisory_unlock(hashtext($1))', [`sscontrol-migrate:${schema}`])
      .catch(() => undefined);
    await client.end();
  }
  return { schema, applied, alreadyApplied };
}

/** Start-up check: every shipped migration is applied, unchanged. */
export async function checkPostgresSchema(client: pg.ClientBase, schema: string): Promise<void> {
  checkSchema(schema);
  const done = await appliedMigrations(client, schema);
  const missing: string[] = [];
  for (const m of loadMigrations()) {
    const checksum = done?.get(m.version);
    if (checksum === undefined) missing.push(m.name);
    else if (checksum !== m.checksum) {
      throw new EventStoreError(
        EventStoreErrorCode.Misconfigured,
        `schema "${schema}": migration ${m.name} differs from the shipped file; restore the release that applied it`,
      );
    }
  }
  if (missing.length > 0) {
    throw new EventStoreError(
      EventStoreErrorCode.Misconfigured,
      `schema "${schema}" lacks migrations ${missing.join(', ')}: run \`sscontrol migrate\``,
    );
  }
  const newer = [...(done?.keys() ?? [])].filter(
    (v) => !loadMigrations().some((m) => m.version === v),
  );
  if (newer.length > 0) {
    throw new EventStoreError(
      EventStoreErrorCode.Misconfigured,
      `schema "${schema}" has migrations ${newer.join(', ')} that this release does not know`,
    );
  }
}
