import Database from 'better-sqlite3';
import { chainHash, genesisHash } from '../chain.js';
import { EventStoreErrorCode } from '../event-store.errors.js';
import type { AppendResult } from '../event-store.js';
import { describeExpected, expectationHolds, type PreparedAppend } from '../internal/prepare.js';
import { openDurably } from './sqlite-schema.js';

/** A per-append failure, as it crosses the worker boundary. */
export interface AppendFailure {
  readonly code: EventStoreErrorCode;
  readonly message: string;
  readonly streamId?: string;
  readonly expected?: string | number;
  readonly actual?: number | null;
}

export type WriterOutcome = { ok: true; value: AppendResult } | { ok: false; error: AppendFailure };

interface HeadRow {
  position: number;
  hash: string;
  recorded_at: number;
}

interface ExistingRow {
  event_id: string;
  stream_id: string;
  revision: number;
  position: number;
}

/**
 * The single writer of a SQLite store within a process (it runs in a worker thread, so commits
 * and their fsyncs never block the event loop). Each batch is one `BEGIN IMMEDIATE` transaction:
 * other processes writing the same file wait for it, so the chain and the positions stay linear.
 */
export class SqliteWriter {
  readonly storeId: string;
  private readonly db: Database.Database;
  private readonly genesis: string;
  private readonly stmt;

  constructor(path: string) {
    this.db = new Database(path);
    this.storeId = openDurably(this.db);
    this.genesis = genesisHash(this.storeId);
    this.stmt = {
      begin: this.db.prepare('BEGIN IMMEDIATE'),
      commit: this.db.prepare('COMMIT'),
      rollback: this.db.prepare('ROLLBACK'),
      savepoint: this.db.prepare('SAVEPOINT append'),
      rollbackToSavepoint: this.db.prepare('ROLLBACK TO append'),
      release: this.db.prepare('RELEASE append'),
      head: this.db.prepare(
        'SELECT position, hash, recorded_at FROM events ORDER BY position DESC LIMIT 1',
      ),
      revision: this.db
        .prepare('SELECT revision FROM events WHERE stream_id = ? ORDER BY revision DESC LIMIT 1')
        .pluck(),
      byId: this.db.prepare(
        'SELECT event_id, stream_id, revision, position FROM events WHERE event_id = ?',
      ),
      insert: this.db.prepare(
        `INSERT INTO events (position, stream_id, revision, event_id, type, schema_version, recorded_at,
           metadata, data, data_digest, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      saveSubscription: this.db.prepare(
        `INSERT INTO subscriptions (name, position, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
      ),
    };
  }

  /** Commits a batch of appends in one durable transaction; per-append conflicts do not fail the others. */
  append(requests: readonly PreparedAppend[]): WriterOutcome[] {
    this.stmt.begin.run();
    try {
      const head = this.stmt.head.get() as HeadRow | undefined;
      let position = head?.position ?? 0;
      let prev = head?.hash ?? this.genesis;
      const recordedAt = Math.max(Date.now(), head?.recorded_at ?? 0);
      const revisions = new Map<string, number | null>();
      const outcomes: WriterOutcome[] = [];
      for (const req of requests) {
        let current = revisions.get(req.streamId);
        if (current === undefined) {
          current = (this.stmt.revision.get(req.streamId) as number | undefined) ?? null;
        }
        if (!expectationHolds(req.expected, current)) {
          outcomes.push(this.rejectOrReplay(req, current));
          continue;
        }
        const multi = req.events.length > 1;
        if (multi) this.stmt.savepoint.run();
        const firstRevision = (current ?? -1) + 1;
        let revision = firstRevision - 1;
        let pos = position;
        let link = prev;
        try {
          for (const e of req.events) {
            pos++;
            revision++;
            const hash = chainHash(link, {
              streamId: req.streamId,
              revision,
              eventId: e.id,
              type: e.type,
              schemaVersion: e.schemaVersion,
              recordedAtMs: recordedAt,
              metadataJson: e.metadataJson,
              dataDigest: e.dataDigest,
            });
            this.stmt.insert.run(
              pos,
              req.streamId,
              revision,
              e.id,
              e.type,
              e.schemaVersion,
              recordedAt,
              e.metadataJson,
              e.dataJson,
              e.dataDigest,
              link,
              hash,
            );
            link = hash;
          }
        } catch (error) {
          if (multi) this.stmt.rollbackToSavepoint.run();
          // An event id already recorded: a retried append, or a duplicate.
          if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
          outcomes.push(this.rejectOrReplay(req, current));
          continue;
        }
        if (multi) this.stmt.release.run();
        revisions.set(req.streamId, revision);
        outcomes.push({
          ok: true,
          value: {
            streamId: req.streamId,
            firstRevision,
            nextExpectedRevision: revision,
            firstPosition: position + 1,
            lastPosition: pos,
            idempotent: false,
          },
        });
        position = pos;
        prev = link;
      }
      this.stmt.commit.run();
      return outcomes;
    } catch (error) {
      if (this.db.inTransaction) this.stmt.rollback.run();
      throw error;
    }
  }

  /** A conflicting append succeeds only as an exact replay of events already recorded. */
  private rejectOrReplay(req: PreparedAppend, current: number | null): WriterOutcome {
    const existing: ExistingRow[] = [];
    for (const e of req.events) {
      const row = this.stmt.byId.get(e.id) as ExistingRow | undefined;
      if (row) existing.push(row);
    }
    if (existing.length === req.events.length) {
      const first = existing[0]!;
      const replay = existing.every(
        (row, i) =>
          row.event_id === req.events[i]!.id &&
          row.stream_id === req.streamId &&
          row.revision === first.revision + i &&
          row.position === first.position + i,
      );
      if (replay) {
        return {
          ok: true,
          value: {
            streamId: req.streamId,
            firstRevision: first.revision,
            nextExpectedRevision: first.revision + existing.length - 1,
            firstPosition: first.position,
            lastPosition: first.position + existing.length - 1,
            idempotent: true,
          },
        };
      }
    }
    if (existing.length > 0) {
      return {
        ok: false,
        error: {
          code: EventStoreErrorCode.DuplicateEvent,
          message: `event ${existing[0]!.event_id} is already recorded in stream ${existing[0]!.stream_id} at revision ${existing[0]!.revision}`,
          streamId: req.streamId,
        },
      };
    }
    return {
      ok: false,
      error: {
        code: EventStoreErrorCode.WrongExpectedRevision,
        message: 'wrong expected revision',
        streamId: req.streamId,
        expected: describeExpected(req.expected),
        actual: current,
      },
    };
  }

  saveSubscription(name: string, position: number): void {
    this.stmt.saveSubscription.run(name, position, Date.now());
  }

  close(): void {
    this.db.close();
  }
}
