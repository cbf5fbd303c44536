import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteEventStore, type EventStore } from '@sscontrol/event-store';
import { collect, tempDir } from '@sscontrol/testing';
import { AnchorLog } from './anchor-log.js';
import { decodeAuditEvent } from './audit-record.js';
import { AuditRecorder } from './audit-recorder.js';
import { verifyAuditTrail } from './audit-verifier.js';
import type { Checkpoint } from './catalogue/audit-trail.events.js';
import { CheckpointKeys } from './checkpoint-keys.js';
import { CheckpointSealer } from './checkpoint-sealer.js';

const actor = { type: 'system' as const, id: 'test' };

describe('CheckpointSealer', () => {
  let dir: ReturnType<typeof tempDir>;
  let store: EventStore;
  let recorder: AuditRecorder;
  const sealers: CheckpointSealer[] = [];

  const make = (options: ConstructorParameters<typeof CheckpointSealer>[4] = {}) => {
    const sealer = new CheckpointSealer(
      store,
      recorder,
      new CheckpointKeys(path.join(dir.path, 'keys'), store.info.storeId),
      path.join(dir.path, 'anchors'),
      options,
    );
    sealers.push(sealer);
    return sealer;
  };
  const record = (n: number) =>
    Promise.all(
      Array.from({ length: n }, (_, i) =>
        recorder.record(
          'job.started',
          { jobId: `j${i}`, name: 'backup', runKey: `r${i}`, attempt: 1 },
          { actor },
        ),
      ),
    );
  const checkpoints = async () =>
    (await collect(store.readStream('audit-checkpoints'))).map(
      (e) => decodeAuditEvent(e).data as Checkpoint,
    );

  beforeEach(async () => {
    dir = tempDir();
    store = await createSqliteEventStore({ path: path.join(dir.path, 'events.db') });
    recorder = new AuditRecorder({
      store,
      source: { service: 'control', instance: 'c1', version: '1' },
    });
  });

  afterEach(async () => {
    for (const s of sealers.splice(0)) await s.stop();
    await store.close();
    dir.remove();
  });

  it('seals once enough events are unsealed, and not for its own checkpoint event', async () => {
    const sealer = make({ everyEvents: 50, everyMs: 3_600_000 });
    await sealer.start();
    await sealer.sealNow();
    await record(30);
    expect(await sealer.sealIfDue()).toBeNull();
    await record(30);
    const cp = await sealer.sealIfDue();
    expect(cp).toMatchObject({ seq: 2, count: 61 });
    expect(await sealer.sealIfDue()).toBeNull();
  });

  it('seals by age while events arrive', async () => {
    const sealer = make({ everyEvents: 1_000_000, everyMs: 300, tickMs: 50 });
    await sealer.start();
    await record(3);
    for (let i = 0; i < 60 && (await checkpoints()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect((await checkpoints())[0]).toMatchObject({ seq: 1, fromPosition: 1 });
  });

  it('keeps one linear sequence when several processes seal at once', async () => {
    const a = make();
    const b = make();
    await Promise.all([a.start(), b.start()]);
    for (let round = 0; round < 5; round++) {
      await record(20);
      await Promise.all([a.sealNow(), b.sealNow(), a.sealNow()]);
    }
    const cps = await checkpoints();
    expect(cps.map((c) => c.seq)).toEqual(cps.map((_, i) => i + 1));
    for (let i = 1; i < cps.length; i++) {
      expect(cps[i]!.prevSignature).toBe(cps[i - 1]!.signature);
      expect(cps[i]!.fromPosition).toBe(cps[i - 1]!.toPosition + 1);
    }
    const report = await verifyAuditTrail({ store, anchorDir: path.join(dir.path, 'anchors') });
    expect(report.ok).toBe(true);
    expect(report.warnings).toEqual([]);
  });

  it('refuses to sign a trail that does not verify, and says so', async () => {
    const broken: unknown[] = [];
    const sealer = make({ onChainBroken: (b) => broken.push(b) });
    await sealer.start();
    await record(10);
    const db = new Database(path.join(dir.path, 'events.db'));
    db.prepare(`UPDATE events SET data = '{"forged":1}' WHERE position = 5`).run();
    db.close();
    expect(await sealer.sealNow()).toBeNull();
    expect(broken).toEqual([expect.objectContaining({ class: 'modified', position: 5 })]);
    expect(sealer.chainBreak).toMatchObject({ class: 'modified' });
    expect(await checkpoints()).toHaveLength(0);
  });

  it('writes every checkpoint outside the store too, and restores a copy lost in a crash', async () => {
    const sealer = make();
    await sealer.start();
    await record(5);
    await sealer.sealNow();
    await record(5);
    await sealer.sealNow();
    const anchors = new AnchorLog(path.join(dir.path, 'anchors'), store.info.storeId);
    expect(anchors.checkpoints().entries.map((c) => c.seq)).toEqual([1, 2]);
    const file = anchors.checkpointsFile;
    writeFileSync(file, readFileSync(file, 'utf8').split('\n')[0] + '\n');
    await make().start();
    expect(
      anchors
        .checkpoints()
        .entries.map((c) => c.seq)
        .sort(),
    ).toEqual([1, 2]);
  });

  it('seals the tail on a graceful stop', async () => {
    const sealer = make({ everyEvents: 1_000_000, everyMs: 3_600_000 });
    await sealer.start();
    await record(7);
    await sealer.stop({ finalSeal: true });
    const head = await store.head();
    const last = (await checkpoints()).at(-1)!;
    expect(last.toPosition).toBe(head.position - 1);
  });
});
