import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  chainHash,
  createPostgresEventStore,
  createSqliteEventStore,
  payloadDigest,
  type EventStore,
  type EventStoreSettings,
} from '@sscontrol/event-store';
import { createTestPostgresSchema, tempDir } from '@sscontrol/testing';
import { AuditRecorder } from './audit-recorder.js';
import { TamperClass, verifyAuditTrail, type VerifyReport } from './audit-verifier.js';
import type { Checkpoint } from './catalogue/audit-trail.events.js';
import { CheckpointKeys } from './checkpoint-keys.js';
import { CheckpointSealer } from './checkpoint-sealer.js';
import { checkpointKeyId, checkpointSigningPayload, signBytes } from './checkpoint-signature.js';

/** A stored row, as a tamperer sees it. */
interface Row {
  position: number;
  stream_id: string;
  revision: number;
  event_id: string;
  type: string;
  schema_version: number;
  recorded_at: number;
  metadata: string;
  data: string;
  data_digest: string;
  prev_hash: string;
  hash: string;
}

/** Direct access to a backend's table, bypassing the store: what an attacker with DB access has. */
interface Tamperer {
  row(position: number): Promise<Row>;
  update(position: number, changes: Partial<Row>): Promise<void>;
  remove(position: number): Promise<void>;
  removeAfter(position: number): Promise<void>;
  /** Adds `delta` to every position after `after` (closing or opening a gap). */
  shift(after: number, delta: number): Promise<void>;
  insert(row: Row): Promise<void>;
}

interface Backend {
  readonly name: string;
  open(): Promise<{
    store: EventStore;
    settings: EventStoreSettings;
    tamper: Tamperer;
    cleanup(): Promise<void>;
  }>;
}

const COLS: (keyof Row)[] = [
  'position',
  'stream_id',
  'revision',
  'event_id',
  'type',
  'schema_version',
  'recorded_at',
  'metadata',
  'data',
  'data_digest',
  'prev_hash',
  'hash',
];

const sqlite: Backend = {
  name: 'sqlite',
  async open() {
    const dir = tempDir();
    const file = path.join(dir.path, 'events.db');
    const store = await createSqliteEventStore({ path: file });
    const db = new Database(file);
    db.pragma('busy_timeout = 5000');
    return {
      store,
      settings: { backend: 'sqlite', sqlite: { path: file } },
      tamper: {
        row: async (p) => db.prepare('SELECT * FROM events WHERE position = ?').get(p) as Row,
        update: async (p, c) => {
          const keys = Object.keys(c);
          db.prepare(
            `UPDATE events SET ${keys.map((k) => `${k} = ?`).join(', ')} WHERE position = ?`,
          ).run(...Object.values(c), p);
        },
        remove: async (p) => void db.prepare('DELETE FROM events WHERE position = ?').run(p),
        removeAfter: async (p) => void db.prepare('DELETE FROM events WHERE position > ?').run(p),
        shift: async (after, delta) => {
          db.prepare('UPDATE events SET position = -(position + ?) WHERE position > ?').run(
            delta,
            after,
          );
          db.prepare('UPDATE events SET position = -position WHERE position < 0').run();
        },
        insert: async (r) =>
          void db
            .prepare(
              `INSERT INTO events (${COLS.join(', ')}) VALUES (${COLS.map(() => '?').join(', ')})`,
            )
            .run(...COLS.map((c) => r[c])),
      },
      cleanup: async () => {
        db.close();
        dir.remove();
      },
    };
  },
};

const postgres: Backend = {
  name: 'postgres',
  async open() {
    const pg = await createTestPostgresSchema();
    const store = await createPostgresEventStore({ connectionString: pg.url, schema: pg.schema });
    const t = `"${pg.schema}".events`;
    const syncHead = () =>
      pg.query(
        `UPDATE "${pg.schema}".head SET position = e.position, hash = e.hash FROM (SELECT position, hash FROM ${t} ORDER BY position DESC LIMIT 1) e WHERE id = 1`,
      );
    return {
      store,
      settings: { backend: 'postgres', postgres: { url: pg.url, schema: pg.schema } },
      tamper: {
        row: async (p) => {
          const r = await pg.query<Row>(`SELECT * FROM ${t} WHERE position = $1`, [p]);
          const row = r.rows[0]!;
          return {
            ...row,
            position: Number(row.position),
            revision: Number(row.revision),
            recorded_at: Number(row.recorded_at),
          };
        },
        update: async (p, c) => {
          const keys = Object.keys(c);
          await pg.query(
            `UPDATE ${t} SET ${keys.map((k, i) => `${k} = $${i + 1}`).join(', ')} WHERE position = $${keys.length + 1}`,
            [...Object.values(c), p],
          );
        },
        remove: async (p) => void (await pg.query(`DELETE FROM ${t} WHERE position = $1`, [p])),
        // A careful attacker also rewinds the head row, so the store looks whole.
        removeAfter: async (p) => {
          await pg.query(`DELETE FROM ${t} WHERE position > $1`, [p]);
          await syncHead();
        },
        shift: async (after, delta) => {
          await pg.query(`UPDATE ${t} SET position = -(position + $1) WHERE position > $2`, [
            delta,
            after,
          ]);
          await pg.query(`UPDATE ${t} SET position = -position WHERE position < 0`);
          await syncHead();
        },
        insert: async (r) => {
          await pg.query(
            `INSERT INTO ${t} (${COLS.join(', ')}) VALUES (${COLS.map((_, i) => `$${i + 1}`).join(', ')})`,
            COLS.map((c) => r[c]),
          );
          await syncHead();
        },
      },
      cleanup: () => pg.drop(),
    };
  },
};

/** Hash of a row as the store would have computed it after `prev`. */
function rehash(row: Row, prev: string): string {
  return chainHash(prev, {
    streamId: row.stream_id,
    revision: row.revision,
    eventId: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    recordedAtMs: row.recorded_at,
    metadataJson: row.metadata,
    dataDigest: row.data_digest,
  });
}

describe.each([sqlite, postgres])('audit trail tamper evidence: $name', (backend) => {
  let store: EventStore;
  let settings: EventStoreSettings;
  let tamper: Tamperer;
  let cleanup: () => Promise<void>;
  let dirs: ReturnType<typeof tempDir>;
  let sealer: CheckpointSealer;
  let recorder: AuditRecorder;
  let keys: CheckpointKeys;
  let firstKeyPem: string;

  const anchorDir = () => path.join(dirs.path, 'anchors');
  const verify = (
    extra: { trustedKeys?: string[]; anchors?: boolean } = {},
  ): Promise<VerifyReport> =>
    verifyAuditTrail({
      store,
      settings,
      ...(extra.anchors === false ? {} : { anchorDir: anchorDir() }),
      ...(extra.trustedKeys ? { trustedKeys: extra.trustedKeys } : {}),
    });

  /** Given: 400 events of three kinds, sealed by 4 checkpoints, the key rotated after the 2nd. */
  beforeEach(async () => {
    ({ store, settings, tamper, cleanup } = await backend.open());
    dirs = tempDir();
    recorder = new AuditRecorder({
      store,
      source: { service: 'control', instance: 'test-1', version: '0.0.0' },
    });
    keys = new CheckpointKeys(path.join(dirs.path, 'keys'), store.info.storeId);
    sealer = new CheckpointSealer(store, recorder, keys, anchorDir(), {
      everyEvents: 1_000_000,
      everyMs: 3_600_000,
    });
    await sealer.start();
    firstKeyPem = keys.active().public.publicKey;
    const actor = { type: 'device' as const, id: 'dev-1', ip: '10.0.0.7' };
    for (let batch = 0; batch < 4; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => {
          const n = batch * 100 + i;
          return n % 2 === 0
            ? recorder.record(
                'connection.opened',
                {
                  connectionId: `c${n}`,
                  subject: `dev-${n % 7}`,
                  role: 'host',
                  ip: '10.0.0.7',
                  tokenId: `t${n}`,
                  keyId: 'ct-1',
                  keyFingerprint: 'ab'.repeat(8),
                  instance: 'sig-1',
                },
                { actor },
              )
            : recorder.record(
                'connection.closed',
                { connectionId: `c${n - 1}`, code: 1000, reason: 'bye', durationMs: n },
                { actor },
              );
        }),
      );
      expect(await sealer.sealNow()).not.toBeNull();
      if (batch === 1) await sealer.rotateKey();
    }
    await sealer.stop();
  });

  afterEach(async () => {
    await store.close();
    await cleanup();
    dirs.remove();
  });

  it('verifies an untouched trail, across a key rotation, trusting only the first key', async () => {
    const report = await verify({ anchors: false, trustedKeys: [firstKeyPem] });
    expect(report.failure).toBeNull();
    expect(report.ok).toBe(true);
    expect(report.checkpoints).toBe(4);
    expect(report.trustedKeyIds).toHaveLength(2);
    expect(report.checkedEvents).toBe(report.headPosition);
    const withAnchors = await verify();
    expect(withAnchors.ok).toBe(true);
    expect(withAnchors.warnings).toEqual([]);
  });

  it('modified: a payload changed in place', async () => {
    const before = await tamper.row(120);
    await tamper.update(120, { data: before.data.replace(/}$/, ',"alibi":true}') });
    const { failure } = await verify();
    expect(failure).toMatchObject({
      class: TamperClass.Modified,
      position: 120,
      streamId: before.stream_id,
    });
  });

  it('modified: a payload changed with its digest and hash recomputed', async () => {
    const row = await tamper.row(121);
    const data = row.data.replace(/}$/, ',"alibi":true}');
    const changed = { ...row, data, data_digest: payloadDigest(data) };
    await tamper.update(121, {
      data,
      data_digest: changed.data_digest,
      hash: rehash(changed, row.prev_hash),
    });
    const { failure } = await verify();
    expect(failure).toMatchObject({ class: TamperClass.Modified, position: 121 });
  });

  it('deleted: an event removed', async () => {
    await tamper.remove(150);
    const { failure } = await verify();
    expect(failure).toMatchObject({ class: TamperClass.Deleted, position: 150 });
  });

  it('deleted: an event removed and the later positions closed up', async () => {
    await tamper.remove(150);
    await tamper.shift(150, -1);
    const { failure } = await verify();
    expect(failure).toMatchObject({ class: TamperClass.Deleted, position: 150 });
  });

  it('inserted: a forged event with a valid hash placed between two events', async () => {
    const before = await tamper.row(200);
    const data = JSON.stringify({ forged: true });
    const forged: Row = {
      ...before,
      position: 201,
      event_id: '01900000-0000-7000-8000-00000000f00d',
      stream_id: 'connection-forged',
      revision: 0,
      data,
      data_digest: payloadDigest(data),
      prev_hash: before.hash,
      hash: '',
    };
    forged.hash = rehash(forged, before.hash);
    await tamper.shift(200, 1);
    await tamper.insert(forged);
    const { failure } = await verify();
    expect(failure).toMatchObject({ class: TamperClass.Inserted, position: 201 });
  });

  it('reordered: two events swapped', async () => {
    const a = await tamper.row(170);
    await tamper.remove(170);
    await tamper.update(171, { position: 170 });
    await tamper.insert({ ...a, position: 171 });
    const { failure } = await verify();
    expect(failure).toMatchObject({ class: TamperClass.Reordered, position: 170 });
  });

  it('truncated: the tail cut off (the copy of the checkpoints outside the store tells)', async () => {
    const head = (await store.head()).position;
    await tamper.removeAfter(250);
    const report = await verify();
    expect(report.failure).toMatchObject({ class: TamperClass.Truncated, position: 251 });
    expect(head).toBeGreaterThan(250);
  });

  it('bad signature: a checkpoint whose signature does not verify', async () => {
    const last = sealer.lastCheckpoint!;
    await recorder.record(
      'connection.closed',
      { connectionId: 'cx', code: 1000, reason: '', durationMs: 1 },
      { actor: { type: 'system', id: 't' } },
    );
    const head = await store.head();
    const key = keys.active();
    const unsigned = {
      ...last,
      seq: last.seq + 1,
      fromPosition: last.toPosition + 1,
      toPosition: head.position,
      count: head.position - last.toPosition,
      headHash: head.hash,
      anchors: [],
      prevSignature: last.signature,
      signedAt: new Date().toISOString(),
    };
    const good = signBytes(key.privateKey, checkpointSigningPayload(unsigned));
    const bad = Buffer.from(good, 'base64');
    bad[5] = bad[5]! ^ 0xff;
    const forged: Checkpoint = { ...unsigned, signature: bad.toString('base64') };
    await recorder.record('audit.checkpointed', forged, {
      actor: { type: 'system', id: 'checkpoint-sealer' },
    });
    const { failure } = await verify();
    expect(failure).toMatchObject({
      class: TamperClass.BadSignature,
      position: last.toPosition + 1,
      checkpointSeq: last.seq + 1,
    });
  });

  it('unknown key: a checkpoint signed with a key nobody endorsed', async () => {
    const last = sealer.lastCheckpoint!;
    await recorder.record(
      'connection.closed',
      { connectionId: 'cy', code: 1000, reason: '', durationMs: 1 },
      { actor: { type: 'system', id: 't' } },
    );
    const head = await store.head();
    const rogue = generateKeyPairSync('ed25519');
    const roguePem = rogue.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const unsigned = {
      ...last,
      seq: last.seq + 1,
      fromPosition: last.toPosition + 1,
      toPosition: head.position,
      count: head.position - last.toPosition,
      headHash: head.hash,
      anchors: [],
      prevSignature: last.signature,
      keyId: checkpointKeyId(roguePem),
      signedAt: new Date().toISOString(),
    };
    const forged: Checkpoint = {
      ...unsigned,
      signature: signBytes(rogue.privateKey, checkpointSigningPayload(unsigned)),
    };
    await recorder.record('audit.checkpointed', forged, {
      actor: { type: 'system', id: 'checkpoint-sealer' },
    });
    const { failure } = await verify();
    expect(failure).toMatchObject({ class: TamperClass.UnknownKey, checkpointSeq: last.seq + 1 });
  });

  it('unknown key: a rotated key whose endorsement was forged is not trusted', async () => {
    const keyEvents = [];
    for await (const e of store.readStream('audit-keys')) keyEvents.push(e);
    const second = await tamper.row(keyEvents[1]!.position);
    const data = JSON.parse(second.data) as { endorsement: string };
    data.endorsement = Buffer.alloc(64, 2).toString('base64');
    await tamper.update(second.position, { data: JSON.stringify(data) });
    const report = await verify({ anchors: false, trustedKeys: [firstKeyPem] });
    expect(report.trustedKeyIds).toHaveLength(1);
    // Checkpoint 3, the first signed with the rotated key, starts before the key event's position.
    expect(report.failure).toMatchObject({ class: TamperClass.UnknownKey, checkpointSeq: 3 });
  });
});
