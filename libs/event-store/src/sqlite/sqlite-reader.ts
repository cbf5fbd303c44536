import Database from 'better-sqlite3';
import type { ChainRecord } from '../chain.js';
import type { LogFilter, RecordedEvent } from '../event-store.js';
import {
  EVENT_COLUMNS,
  rowToChainRecord,
  rowToEvent,
  type EventRow,
} from '../internal/event-rows.js';

/**
 * Read side of a SQLite store. Reads are short synchronous statements on a connection of their
 * own; in WAL mode they never wait for the writer. Used on the main thread and, for parallel
 * verification, in worker threads.
 */
export class SqliteReader {
  readonly db: Database.Database;
  private readonly stmt;
  private readonly filtered = new Map<string, Database.Statement>();

  constructor(path: string) {
    this.db = new Database(path, { fileMustExist: true });
    this.db.pragma('busy_timeout = 10000');
    this.db.pragma('query_only = ON');
    this.stmt = {
      head: this.db.prepare(
        'SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1',
      ),
      maxPosition: this.db.prepare('SELECT max(position) FROM events').pluck(),
      storeId: this.db.prepare("SELECT value FROM store_meta WHERE key = 'store_id'").pluck(),
      revision: this.db
        .prepare('SELECT revision FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT 1')
        .pluck(),
      stream: this.db
        .prepare(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE stream_id = ? AND revision >= ? ORDER BY revision LIMIT ?`,
        )
        .raw(true),
      chain: this.db
        .prepare(
          `SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? AND position <= ? ORDER BY position LIMIT ?`,
        )
        .raw(true),
      hashAt: this.db.prepare('SELECT hash FROM events WHERE position = ?').pluck(),
      subscription: this.db.prepare('SELECT position FROM subscriptions WHERE name = ?').pluck(),
      recordedAt: this.db
        .prepare('SELECT recorded_at FROM events WHERE position >= ? ORDER BY position LIMIT 1')
        .raw(true),
      minPosition: this.db.prepare('SELECT min(position) FROM events').pluck(),
    };
  }

  storeId(): string {
    return this.stmt.storeId.get() as string;
  }

  head(): { position: number; hash: string; recordedAt: number } | null {
    const row = this.stmt.head.get() as
      { position: number; hash: string; recorded_at: number } | undefined;
    return row ? { position: row.position, hash: row.hash, recordedAt: row.recorded_at } : null;
  }

  headPosition(): number {
    return (this.stmt.maxPosition.get() as number | null) ?? 0;
  }

  streamRevision(streamId: string): number | null {
    return (this.stmt.revision.get(streamId) as number | undefined) ?? null;
  }

  streamPage(streamId: string, fromRevision: number, limit: number): RecordedEvent[] {
    return (this.stmt.stream.all(streamId, fromRevision, limit) as EventRow[]).map(rowToEvent);
  }

  chainPage(after: number, to: number, limit: number): ChainRecord[] {
    return (this.stmt.chain.all(after, to, limit) as EventRow[]).map(rowToChainRecord);
  }

  hashAt(position: number): string | undefined {
    return this.stmt.hashAt.get(position) as string | undefined;
  }

  subscriptionPosition(name: string): number | null {
    return (this.stmt.subscription.get(name) as number | undefined) ?? null;
  }

  /**
   * One page of the filtered log after `after`, and how far it has scanned. Runs in a read
   * transaction so the head and the page come from one snapshot.
   */
  logPage(
    after: number,
    to: number,
    filter: LogFilter,
    limit: number,
  ): { events: RecordedEvent[]; scannedTo: number; head: number; end: number } {
    const read = this.db.transaction(() => {
      const head = this.headPosition();
      let upper = Math.min(to, head);
      let lower = after;
      // recorded_at never decreases along the log, so a time range is a position range.
      if (filter.until)
        upper = Math.min(upper, this.firstRecordedAtOrAfter(filter.until.getTime(), head) - 1);
      if (filter.since)
        lower = Math.max(lower, this.firstRecordedAtOrAfter(filter.since.getTime(), head) - 1);
      const { sql, params } = this.filterSql(filter);
      const key = sql;
      let stmt = this.filtered.get(key);
      if (!stmt) {
        stmt = this.db
          .prepare(
            `SELECT ${EVENT_COLUMNS} FROM events WHERE position > ? AND position <= ?${sql} ORDER BY position LIMIT ?`,
          )
          .raw(true);
        this.filtered.set(key, stmt);
      }
      const rows = stmt.all(lower, upper, ...params, limit) as EventRow[];
      const events = rows.map(rowToEvent);
      const scannedTo = rows.length < limit ? upper : rows[rows.length - 1]![0];
      return { events, scannedTo: Math.max(scannedTo, after), head, end: Math.max(upper, after) };
    });
    return read.deferred();
  }

  /**
   * First position recorded at or after `ms` (head + 1 when none). `recorded_at` never decreases
   * along the log, so this is a binary search over positions rather than another index to maintain
   * on every append.
   */
  private firstRecordedAtOrAfter(ms: number, head: number): number {
    let lo = (this.stmt.minPosition.get() as number | null) ?? 1;
    let hi = head + 1;
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = this.stmt.recordedAt.get(mid) as [number] | undefined;
      if (row === undefined || row[0] >= ms) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  private filterSql(filter: LogFilter): { sql: string; params: (string | number)[] } {
    let sql = '';
    const params: (string | number)[] = [];
    if (filter.types && filter.types.length > 0) {
      sql += ` AND type IN (${filter.types.map(() => '?').join(',')})`;
      params.push(...filter.types);
    }
    if (filter.streamPrefixes && filter.streamPrefixes.length > 0) {
      sql += ` AND (${filter.streamPrefixes.map(() => '(stream_id >= ? AND stream_id < ?)').join(' OR ')})`;
      for (const p of filter.streamPrefixes) params.push(p, `${p}\u{10ffff}`);
    }
    if (filter.since) {
      sql += ' AND recorded_at >= ?';
      params.push(filter.since.getTime());
    }
    if (filter.until) {
      sql += ' AND recorded_at < ?';
      params.push(filter.until.getTime());
    }
    return { sql, params };
  }

  close(): void {
    this.db.close();
  }
}
