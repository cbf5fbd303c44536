import { createHash } from 'node:crypto';
import pg from 'pg';
import { KeysError, KeysErrorCode } from './keys.errors.js';
import {
  ChangeListeners,
  assertNextVersion,
  parseRingDocument,
  type KeyStore,
  type RingUpdate,
} from './key-store.js';
import type { RingDocument } from './key-record.js';

/** Options of {@link PostgresKeyStore}. */
export interface PostgresKeyStoreOptions {
  /**
   * Connections for reads and updates. The caller owns it: {@link PostgresKeyStore.close} leaves it
   * open. Watching opens one more connection of its own, with the pool's connection settings.
   */
  readonly pool: pg.Pool;
  /**
   * Schema holding `keyring` (migration 0002, applied by `sscontrol migrate`), normally the event
   * store's EVENT_STORE_POSTGRES_SCHEMA.
   */
  readonly schema: string;
}

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;
/** Pool queries of the watcher: notifications are lost while its connection is down. */
const POLL_MS = 2_000;
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;

interface RingRow {
  version: string;
  document: unknown;
}

interface Watcher {
  client: pg.Client | null;
  timer: NodeJS.Timeout;
  reconnect: NodeJS.Timeout | null;
  delayMs: number;
  stopped: boolean;
}

/**
 * The key store of instances sharing a PostgreSQL database: the ring is the one row of
 * `<schema>.keyring`, updated in a transaction that holds a transaction-level advisory lock, and
 * every write sends a notification that other instances LISTEN for (a poll every 2 s covers
 * notifications lost while disconnected).
 *
 * Errors carry PostgreSQL's message and SQLSTATE only, never `detail` or the error as `cause`: a
 * constraint's detail can quote the row, i.e. the sealed document.
 */
export class PostgresKeyStore implements KeyStore {
  readonly backend = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly table: string;
  private readonly lockName: string;
  private readonly channel: string;
  private readonly listeners = new ChangeListeners(
    () => {
      this.watcher ??= this.startWatching();
    },
    () => this.stopWatching(),
  );
  private watcher: Watcher | null = null;

  constructor(options: PostgresKeyStoreOptions) {
    if (!IDENT.test(options.schema)) {
      throw new KeysError(
        KeysErrorCode.KeyStoreUnavailable,
        `invalid PostgreSQL schema name ${JSON.stringify(options.schema)}`,
      );
    }
    this.pool = options.pool;
    this.table = `"${options.schema}".keyring`;
    this.lockName = `sscontrol-keyring:${options.schema}`;
    // One channel per schema, as the event store's `<schema>.events`, so that stores in other
    // schemas of the database do not wake each other. Channel names are limited to 63 bytes.
    const channel = `${options.schema}.keyring`;
    this.channel =
      channel.length <= 63
        ? channel
        : `keyring_${createHash('sha256').update(options.schema).digest('hex').slice(0, 32)}`;
  }

  async read(): Promise<RingDocument | null> {
    const res = await this.run('read', () =>
      this.pool.query<RingRow>(`SELECT version, document FROM ${this.table} WHERE id = 1`),
    );
    return this.parseRow(res.rows[0]);
  }

  private parseRow(row: RingRow | undefined): RingDocument | null {
    if (!row) return null;
    const doc = parseRingDocument(JSON.stringify(row.document), this.table);
    if (String(doc.version) !== String(row.version)) {
      throw new KeysError(
        KeysErrorCode.KeyStoreCorrupt,
        `${this.table}: row version ${row.version} differs from the document's ${doc.version}`,
      );
    }
    return doc;
  }

  async update<T>(fn: (current: RingDocument | null) => Promise<RingUpdate<T>>): Promise<T> {
    const client = await this.run('reach', () => this.pool.connect());
    let broken = false;
    const q = async <R extends pg.QueryResultRow>(
      what: string,
      sql: string,
      params?: unknown[],
    ): Promise<pg.QueryResult<R>> => {
      try {
        return await client.query<R>(sql, params);
      } catch (error) {
        // Anything but a server's error reply means the connection is unusable: drop it.
        if (!(error instanceof pg.DatabaseError)) broken = true;
        throw this.keysError(what, error);
      }
    };
    let open = false;
    try {
      await q('update', 'BEGIN');
      open = true;
      // Bounds the wait for the advisory lock (and the row lock): SQLSTATE 55P03 after 10 s.
      await q('update', `SET LOCAL lock_timeout = '10s'`);
      await q('lock', 'SELECT pg_advisory_xact_lock(hashtext($1))', [this.lockName]);
      const res = await q<RingRow>(
        'read',
        `SELECT version, document FROM ${this.table} WHERE id = 1 FOR UPDATE`,
      );
      const current = this.parseRow(res.rows[0]);
      const { next, result } = await fn(current);
      if (next) {
        assertNextVersion(current, next);
        const text = JSON.stringify(next);
        const written = current
          ? await q(
              'write',
              `UPDATE ${this.table} SET version = $1, document = $2::jsonb, updated_at = now()
               WHERE id = 1 AND version = $3`,
              [next.version, text, current.version],
            )
          : await q(
              'write',
              `INSERT INTO ${this.table} (id, version, document) VALUES (1, $1, $2::jsonb)`,
              [next.version, text],
            );
        if (written.rowCount !== 1) {
          throw new KeysError(
            KeysErrorCode.KeyStoreBusy,
            `${this.table} changed during the update; nothing was written, try again`,
          );
        }
        await q('notify', 'SELECT pg_notify($1, $2)', [this.channel, String(next.version)]);
      }
      await q('commit', 'COMMIT');
      open = false;
      return result;
    } finally {
      if (open && !broken) await client.query('ROLLBACK').catch(() => (broken = true));
      client.release(broken);
    }
  }

  watch(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  private startWatching(): Watcher {
    void this.check();
    const timer = setInterval(() => void this.check(), POLL_MS);
    timer.unref();
    const watcher: Watcher = {
      client: null,
      timer,
      reconnect: null,
      delayMs: RECONNECT_MIN_MS,
      stopped: false,
    };
    void this.listen(watcher);
    return watcher;
  }

  /** Opens the LISTEN connection; on failure or loss, tries again with a growing delay. */
  private async listen(watcher: Watcher): Promise<void> {
    watcher.reconnect = null;
    const client = new pg.Client({
      ...this.pool.options,
      application_name: 'sscontrol-keyring-watch',
    });
    let failed = false;
    const retry = () => {
      if (failed) return;
      failed = true;
      if (watcher.client === client) watcher.client = null;
      void client.end().catch(() => undefined);
      if (watcher.stopped) return;
      watcher.reconnect = setTimeout(() => void this.listen(watcher), watcher.delayMs);
      watcher.reconnect.unref();
      watcher.delayMs = Math.min(watcher.delayMs * 2, RECONNECT_MAX_MS);
    };
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel) return;
      this.listeners.announced(msg.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch {
      retry();
      return;
    }
    if (watcher.stopped) {
      failed = true;
      await client.end().catch(() => undefined);
      return;
    }
    watcher.client = client;
    watcher.delayMs = RECONNECT_MIN_MS;
    // What was written while no connection listened is found by comparing versions.
    void this.check();
  }

  private stopWatching(): void {
    const watcher = this.watcher;
    if (!watcher) return;
    this.watcher = null;
    watcher.stopped = true;
    clearInterval(watcher.timer);
    if (watcher.reconnect) clearTimeout(watcher.reconnect);
    void watcher.client?.end().catch(() => undefined);
  }

  /** Compares the stored version with the last one seen; the first check only records it. */
  private async check(): Promise<void> {
    let current: number;
    try {
      const res = await this.pool.query<{ version: string }>(
        `SELECT version FROM ${this.table} WHERE id = 1`,
      );
      current = Number(res.rows[0]?.version ?? 0);
    } catch {
      return;
    }
    this.listeners.observed(current);
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }

  private async run<T>(what: string, query: () => Promise<T>): Promise<T> {
    try {
      return await query();
    } catch (error) {
      throw this.keysError(what, error);
    }
  }

  private keysError(what: string, error: unknown): KeysError {
    if (error instanceof KeysError) return error;
    const state = sqlState(error);
    const message = error instanceof Error ? error.message : 'error';
    switch (state) {
      case '55P03':
        return new KeysError(
          KeysErrorCode.KeyStoreBusy,
          `the key store is locked by another process (${this.table}); try again`,
        );
      case '42P01':
      case '3F000':
        return new KeysError(
          KeysErrorCode.KeyStoreUnavailable,
          `${this.table} does not exist: run \`sscontrol migrate\``,
        );
      default:
        return new KeysError(
          KeysErrorCode.KeyStoreUnavailable,
          `cannot ${what} the key ring in PostgreSQL (${this.table}): ${message}${state ? ` (SQLSTATE ${state})` : ''}`,
        );
    }
  }
}

function sqlState(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}
