import pg from 'pg';

/** Database the sscontrol and floor contenders get their fresh schemas in. */
export const BENCH_DATABASE = 'sscontrol_bench';
/** Database Emmett gets (it uses the `public` schema), recreated for every cell. */
export const EMMETT_DATABASE = 'sscontrol_bench_emmett';

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`not a plain identifier: ${name}`);
  return `"${name}"`;
}

/** Runs statements one by one on a short-lived connection; returns the rows of the last one. */
export async function adminQuery<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  ...statements: string[]
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let rows: R[] = [];
    for (const sql of statements) rows = (await client.query<R>(sql)).rows;
    return rows;
  } finally {
    await client.end();
  }
}

/** Drops (disconnecting its sessions) and creates a database. */
export async function recreateDatabase(serverUrl: string, name: string): Promise<void> {
  await adminQuery(
    serverUrl,
    `DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`,
    `CREATE DATABASE ${ident(name)}`,
  );
}

/** Drops a database, disconnecting its sessions. */
export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
}

/** Drops a schema and everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  await adminQuery(url, `DROP SCHEMA IF EXISTS ${ident(schema)} CASCADE`);
}

/** The durability settings a session of `url` gets. */
export interface PostgresDurability {
  readonly fsync: string;
  readonly synchronousCommit: string;
  readonly walSyncMethod: string;
  readonly fullPageWrites: string;
  readonly commitDelay: string;
}

/** Reads the durability settings of a session (server, database and role settings applied). */
export async function readDurability(client: pg.ClientBase | pg.Pool): Promise<PostgresDurability> {
  const res = await client.query<{ name: string; setting: string }>(
    `SELECT name, setting FROM pg_settings
     WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes',
                    'commit_delay')`,
  );
  const s = new Map(res.rows.map((r) => [r.name, r.setting]));
  return {
    fsync: s.get('fsync') ?? '?',
    synchronousCommit: s.get('synchronous_commit') ?? '?',
    walSyncMethod: s.get('wal_sync_method') ?? '?',
    fullPageWrites: s.get('full_page_writes') ?? '?',
    commitDelay: s.get('commit_delay') ?? '?',
  };
}

/** Throws unless commits are flushed to disk before they are acknowledged. */
export function assertDurable(d: PostgresDurability, what: string): string {
  if (d.fsync !== 'on' || !['on', 'remote_write', 'remote_apply'].includes(d.synchronousCommit)) {
    throw new Error(
      `${what}: refusing to benchmark a non-durable session ` +
        `(fsync=${d.fsync} synchronous_commit=${d.synchronousCommit})`,
    );
  }
  return (
    `fsync=${d.fsync} synchronous_commit=${d.synchronousCommit} ` +
    `wal_sync_method=${d.walSyncMethod}`
  );
}

/** Durability settings of a new session on `url`, checked. */
export async function checkDurable(url: string, what: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return assertDurable(await readDurability(client), what);
  } finally {
    await client.end();
  }
}

/** Flushes dirty buffers so that no cell pays for the previous one's writes. */
export async function checkpoint(serverUrl: string): Promise<void> {
  await adminQuery(serverUrl, 'CHECKPOINT');
}

/** `SELECT version()`. */
export async function serverVersion(serverUrl: string): Promise<string> {
  const rows = await adminQuery<{ version: string }>(serverUrl, 'SELECT version() AS version');
  return rows[0]?.version ?? 'unknown';
}

/** Server settings that shape the results, as `name=value` pairs. */
export async function serverSettings(serverUrl: string): Promise<string> {
  const rows = await adminQuery<{ name: string; setting: string; unit: string | null }>(
    serverUrl,
    `SELECT name, setting, unit FROM pg_settings
     WHERE name IN ('autovacuum', 'shared_buffers', 'max_wal_size', 'wal_sync_method',
                    'commit_delay', 'synchronous_commit', 'fsync', 'full_page_writes',
                    'work_mem')
     ORDER BY name`,
  );
  return rows.map((r) => `${r.name}=${r.setting}${r.unit ? ` ${r.unit}` : ''}`).join(', ');
}
