import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import pg from 'pg';
import { getPostgreSQLEventStore } from '@event-driven-io/emmett-postgresql';
import {
  canonicalJson,
  createPostgresEventStore,
  createSqliteEventStore,
  migratePostgres,
} from '@sscontrol/event-store';
import type { BenchEvent } from './audit-event.js';
import type { Contender } from './bench-options.js';
import {
  assertDurable,
  BENCH_DATABASE,
  checkDurable,
  dropDatabase,
  dropSchema,
  EMMETT_DATABASE,
  readDurability,
  recreateDatabase,
} from './postgres-admin.js';
import { withDatabase } from './bench-options.js';
import type { FloorReply, FloorRow } from './sqlite-floor.worker.js';

/** A freshly created store of one contender, ready for appends. */
export interface AppendTarget {
  /** The durability settings checked before the run. */
  readonly durability: string;
  /** Appends one event to its own new stream; resolves once the commit is durable. */
  append(event: BenchEvent): Promise<unknown>;
  /** Closes the store, counts the events it holds, and drops the file, schema or database. */
  finish(): Promise<number>;
}

/** Where contenders create their stores. */
export interface ContenderContext {
  /** The server (maintenance database) URL. */
  readonly postgresUrl: string;
  /** Parent directory for SQLite files. */
  readonly dir: string;
}

function tempDir(parent: string): string {
  return mkdtempSync(path.join(parent, 'sscontrol-bench-'));
}

function countSqlite(file: string): number {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT count(*) FROM events').pluck().get() as number;
  } finally {
    db.close();
  }
}

async function countPostgres(url: string, table: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const res = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
    return Number(res.rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}

function schemaName(prefix: string): string {
  return `${prefix}_${randomBytes(4).toString('hex')}`;
}

/** sscontrol's embedded store: writer thread, WAL + synchronous=FULL, group commit, hash chain. */
async function sscontrolSqlite(ctx: ContenderContext): Promise<AppendTarget> {
  const dir = tempDir(ctx.dir);
  const file = path.join(dir, 'events.db');
  const store = await createSqliteEventStore({ path: file });
  const probe = new Database(file, { readonly: true });
  const journal = String(probe.pragma('journal_mode', { simple: true }));
  probe.close();
  if (journal !== 'wal') throw new Error(`sscontrol sqlite: journal_mode=${journal}`);
  return {
    // The writer refuses to open unless it reads back journal_mode=wal and synchronous=2 (FULL).
    durability: `journal_mode=${journal} synchronous=FULL (checked by the store's writer thread)`,
    append: (e) =>
      store.append(e.streamId, [{ id: e.id, type: e.type, data: e.data, metadata: e.metadata }]),
    async finish() {
      await store.close();
      try {
        return countSqlite(file);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The SQLite floor: one INSERT per append in its own transaction, on a worker thread. */
async function sqliteFloor(ctx: ContenderContext): Promise<AppendTarget> {
  const dir = tempDir(ctx.dir);
  const file = path.join(dir, 'floor.db');
  const worker = new Worker(new URL('./sqlite-floor.worker.js', import.meta.url), {
    workerData: { path: file },
  });
  const waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  let nextId = 1;
  const ready = await new Promise<FloorReply>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  if (ready.op !== 'ready' || ready.journalMode !== 'wal' || ready.synchronous !== 2) {
    await worker.terminate();
    throw new Error(`sqlite floor: not durable (${JSON.stringify(ready)})`);
  }
  worker.on('message', (reply: FloorReply) => {
    if (reply.op === 'ready') return;
    const w = waiting.get(reply.id);
    waiting.delete(reply.id);
    if (reply.op === 'ack') w?.resolve();
    else w?.reject(new Error(reply.message));
  });
  return {
    durability:
      `journal_mode=${ready.journalMode} synchronous=${ready.synchronous} (FULL), ` + 'read back',
    append(e) {
      const id = nextId++;
      const row: FloorRow = [
        id,
        e.streamId,
        e.id,
        e.type,
        canonicalJson(e.metadata),
        canonicalJson(e.data),
      ];
      return new Promise<void>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage(row);
      });
    },
    async finish() {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('close');
      await exited;
      try {
        return countSqlite(file);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/**
 * sscontrol's PostgreSQL store in a fresh, migrated schema (pool of 10, group commit, chain
 * computed in SQL).
 */
async function sscontrolPostgres(ctx: ContenderContext): Promise<AppendTarget> {
  const url = withDatabase(ctx.postgresUrl, BENCH_DATABASE);
  const schema = schemaName('bench_sscontrol');
  await migratePostgres(url, schema);
  const durability = await checkDurable(url, 'sscontrol postgres');
  const store = await createPostgresEventStore({ connectionString: url, schema });
  return {
    durability: `${durability} (also refused by the store otherwise)`,
    append: (e) =>
      store.append(e.streamId, [{ id: e.id, type: e.type, data: e.data, metadata: e.metadata }]),
    async finish() {
      await store.close();
      try {
        return await countPostgres(url, `"${schema}".events`);
      } finally {
        await dropSchema(url, schema);
      }
    },
  };
}

/** Emmett's PostgreSQL event store in a database of its own (it uses the `public` schema). */
async function emmett(ctx: ContenderContext): Promise<AppendTarget> {
  await recreateDatabase(ctx.postgresUrl, EMMETT_DATABASE);
  const url = withDatabase(ctx.postgresUrl, EMMETT_DATABASE);
  const durability = await checkDurable(url, 'emmett');
  const es = getPostgreSQLEventStore(url);
  await es.schema.migrate();
  return {
    durability,
    append: (e) =>
      es.appendToStream(e.streamId, [{ type: e.type, data: e.data, metadata: e.metadata }]),
    async finish() {
      await es.close();
      try {
        return await countPostgres(url, 'emt_messages');
      } finally {
        await dropDatabase(ctx.postgresUrl, EMMETT_DATABASE);
      }
    },
  };
}

/** The PostgreSQL floor: one autocommit INSERT per append into a minimal table, pool of 10. */
async function postgresFloor(ctx: ContenderContext): Promise<AppendTarget> {
  const url = withDatabase(ctx.postgresUrl, BENCH_DATABASE);
  const schema = schemaName('bench_floor');
  const table = `"${schema}".events`;
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => undefined);
  await pool.query(`CREATE SCHEMA "${schema}"`);
  await pool.query(
    `CREATE TABLE ${table} (
       position bigserial PRIMARY KEY,
       stream_id text NOT NULL,
       event_id uuid NOT NULL,
       type text NOT NULL,
       metadata text NOT NULL,
       data text NOT NULL)`,
  );
  const durability = assertDurable(await readDurability(pool), 'postgres floor');
  const insert =
    `INSERT INTO ${table} (stream_id, event_id, type, metadata, data) ` +
    'VALUES ($1, $2, $3, $4, $5)';
  return {
    durability: `${durability} (read on a pooled connection)`,
    append: (e) =>
      pool.query({
        name: 'floor-insert',
        text: insert,
        values: [e.streamId, e.id, e.type, canonicalJson(e.metadata), canonicalJson(e.data)],
      }),
    async finish() {
      await pool.end();
      try {
        return await countPostgres(url, table);
      } finally {
        await dropSchema(url, schema);
      }
    },
  };
}

/** Creates a fresh store for one contender. */
export function openContender(contender: Contender, ctx: ContenderContext): Promise<AppendTarget> {
  switch (contender) {
    case 'sqlite':
      return sscontrolSqlite(ctx);
    case 'sqlite-floor':
      return sqliteFloor(ctx);
    case 'postgres':
      return sscontrolPostgres(ctx);
    case 'emmett':
      return emmett(ctx);
    case 'postgres-floor':
      return postgresFloor(ctx);
  }
}

/** Human names of the contenders, as the report shows them. */
export const CONTENDER_LABELS: Readonly<Record<Contender, string>> = {
  sqlite: 'sscontrol sqlite (hash chain, group commit)',
  'sqlite-floor': 'SQLite floor (1 INSERT + commit per append, sequential on a worker thread)',
  postgres: 'sscontrol postgres (hash chain, group commit)',
  emmett: 'Emmett PostgreSQL 0.42.0',
  'postgres-floor': 'PostgreSQL floor (1 autocommit INSERT per append, pool of 10)',
};
