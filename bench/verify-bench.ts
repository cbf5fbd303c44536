import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import {
  AuditRecorder,
  CheckpointKeys,
  CheckpointSealer,
  verifyAuditTrail,
  type VerifyReport,
} from '@sscontrol/audit';
import {
  createPostgresEventStore,
  createSqliteEventStore,
  migratePostgres,
  type EventStore,
  type EventStoreSettings,
  type EventToAppend,
} from '@sscontrol/event-store';
import { auditEvent } from './audit-event.js';
import { withDatabase, type VerifyBackend } from './bench-options.js';
import { startCpuAccounting, waitForQuiet, type CpuShare } from './cpu-usage.js';
import {
  adminQuery,
  BENCH_DATABASE,
  checkpoint,
  checkDurable,
  dropSchema,
} from './postgres-admin.js';

/** Events per append while the store is built. */
const BLOCK = 1000;
/** A checkpoint is sealed after this many events. */
const SEAL_EVERY = 10_000;
/** Appends in flight while building (group commit pipelines them). */
const IN_FLIGHT = 4;

/** One timed `audit verify`. */
export interface VerifyRun {
  readonly wallMs: number;
  /** `durationMs` of the report itself. */
  readonly reportMs: number;
  readonly ok: boolean;
  readonly checkedEvents: number;
  readonly checkpoints: number;
  readonly unsealedEvents: number;
  readonly warnings: readonly string[];
  readonly failure: VerifyReport['failure'];
  /** Where the machine's CPU went during the verify. */
  readonly cpu: CpuShare | null;
}

/** What the verify part measured on one backend. */
export interface VerifyCellResult {
  readonly backend: VerifyBackend;
  /** Events appended through the store (checkpoint and key events come on top). */
  readonly appendedEvents: number;
  /** Head position of the store that was verified. */
  readonly headPosition: number;
  readonly buildMs: number;
  /**
   * PostgreSQL only: whether the events table had planner statistics when verify first ran
   * (`none` when neither ANALYZE nor autovacuum had analysed it yet).
   */
  readonly statistics: 'none' | 'analysed' | null;
  /** Runs on the store as built. */
  readonly runs: readonly VerifyRun[];
  /** PostgreSQL, when the table had no statistics: runs after `ANALYZE`. */
  readonly analyzedRuns?: readonly VerifyRun[];
  /** Runs redone because foreign processes used the CPUs. */
  readonly discardedRuns: readonly VerifyRun[];
}

interface BuiltStore {
  readonly settings: EventStoreSettings;
  open(): Promise<EventStore>;
  /** PostgreSQL: whether the events table has planner statistics. */
  statistics?(): Promise<'none' | 'analysed'>;
  /** PostgreSQL: `ANALYZE` of the events table. */
  analyze?(): Promise<void>;
  cleanup(): Promise<void>;
}

async function createStore(
  backend: VerifyBackend,
  postgresUrl: string,
  dir: string,
): Promise<BuiltStore> {
  if (backend === 'sqlite') {
    const file = path.join(dir, 'events.db');
    return {
      settings: { backend: 'sqlite', sqlite: { path: file } },
      open: () => createSqliteEventStore({ path: file }),
      cleanup: async () => undefined,
    };
  }
  const url = withDatabase(postgresUrl, BENCH_DATABASE);
  const schema = `bench_verify_${randomBytes(4).toString('hex')}`;
  await migratePostgres(url, schema);
  await checkDurable(url, 'verify store');
  return {
    settings: { backend: 'postgres', postgres: { url, schema } },
    open: () => createPostgresEventStore({ connectionString: url, schema }),
    async statistics() {
      const rows = await adminQuery<{ analysed: boolean }>(
        url,
        `SELECT (last_analyze IS NOT NULL OR last_autoanalyze IS NOT NULL) AS analysed
         FROM pg_stat_user_tables WHERE schemaname = '${schema}' AND relname = 'events'`,
      );
      return rows[0]?.analysed ? 'analysed' : 'none';
    },
    async analyze() {
      await adminQuery(url, `ANALYZE "${schema}".events`);
    },
    cleanup: () => dropSchema(url, schema),
  };
}

/** Appends `events` events in 1000-event appends, sealing a signed checkpoint every 10,000. */
async function build(
  store: EventStore,
  events: number,
  keysDir: string,
  anchorDir: string,
  log: (line: string) => void,
): Promise<string> {
  const recorder = new AuditRecorder({
    store,
    source: { service: 'cli', instance: 'bench', version: '0.1.0' },
  });
  const keys = new CheckpointKeys(keysDir, store.info.storeId);
  const sealer = new CheckpointSealer(store, recorder, keys, anchorDir, {
    everyEvents: SEAL_EVERY,
  });
  let seq = 0;
  let block = 0;
  let lastLog = performance.now();
  const appendBlock = async (size: number): Promise<void> => {
    const batch: EventToAppend[] = [];
    for (let i = 0; i < size; i++) {
      const e = auditEvent(seq++);
      batch.push({ id: e.id, type: e.type, data: e.data, metadata: e.metadata });
    }
    await store.append(`bench-load-${block++}`, batch);
  };
  for (let done = 0; done < events;) {
    const chunk = Math.min(SEAL_EVERY, events - done);
    const sizes: number[] = [];
    for (let left = chunk; left > 0; left -= BLOCK) sizes.push(Math.min(BLOCK, left));
    for (let i = 0; i < sizes.length; i += IN_FLIGHT) {
      await Promise.all(sizes.slice(i, i + IN_FLIGHT).map((s) => appendBlock(s)));
    }
    done += chunk;
    const sealed = await sealer.sealNow();
    if (sealed === null && sealer.chainBreak)
      throw new Error(`sealer found a break: ${sealer.chainBreak.detail}`);
    if (performance.now() - lastLog > 10_000) {
      lastLog = performance.now();
      log(`  built ${done.toLocaleString('en-US')} / ${events.toLocaleString('en-US')} events`);
    }
  }
  await sealer.stop();
  return keys.active().public.publicKey;
}

/** How the verify part runs. */
export interface VerifyCellOptions {
  readonly backend: VerifyBackend;
  readonly events: number;
  readonly reps: number;
  readonly postgresUrl: string;
  readonly dir: string;
  /** Foreign CPU (percent of one CPU) above which a run is redone, up to `retries` times. */
  readonly maxForeignCpu: number;
  readonly retries: number;
  readonly quietWaitSeconds: number;
}

/**
 * Builds a store of `events` audit events with signed checkpoints, then times `verifyAuditTrail`
 * on it `reps` times, each on a freshly opened store (2 worker threads above 200,000 events). On
 * PostgreSQL this is done twice: on the store as built (planner statistics only if autovacuum
 * analysed the table meanwhile), then after `ANALYZE`. The store is dropped at the end.
 */
export async function runVerifyCell(
  o: VerifyCellOptions,
  log: (line: string) => void,
): Promise<VerifyCellResult> {
  const dir = mkdtempSync(path.join(o.dir, 'sscontrol-bench-verify-'));
  const keysDir = path.join(dir, 'keys');
  const anchorDir = path.join(dir, 'anchors');
  const built = await createStore(o.backend, o.postgresUrl, dir);
  try {
    const started = performance.now();
    const store = await built.open();
    let trustedKey: string;
    let headPosition: number;
    try {
      trustedKey = await build(store, o.events, keysDir, anchorDir, log);
      headPosition = (await store.head()).position;
    } finally {
      await store.close();
    }
    const buildMs = performance.now() - started;
    log(
      `  built ${headPosition.toLocaleString('en-US')} events in ${(buildMs / 1000).toFixed(1)} s`,
    );

    const discarded: VerifyRun[] = [];
    const timeRuns = async (label: string): Promise<VerifyRun[]> => {
      const runs: VerifyRun[] = [];
      for (let rep = 0; rep < o.reps; rep++) {
        for (let attempt = 0; ; attempt++) {
          if (o.backend === 'postgres') await checkpoint(o.postgresUrl);
          await waitForQuiet(o.maxForeignCpu / 2, o.quietWaitSeconds * 1000, log);
          const run = await verifyOnce(built, anchorDir, trustedKey);
          log(
            `  verify${label} ${rep + 1}/${o.reps}: ${(run.wallMs / 1000).toFixed(2)} s, ` +
              `ok=${run.ok}, ${run.checkedEvents.toLocaleString('en-US')} events, ` +
              `${run.checkpoints} checkpoints` +
              (run.cpu
                ? `; cpu % bench ${run.cpu.bench} postgres ${run.cpu.postgres} ` +
                  `(+${run.cpu.postgresExited} exited) ` +
                  `other ${run.cpu.other}`
                : ''),
          );
          if ((run.cpu?.other ?? 0) <= o.maxForeignCpu || attempt >= o.retries) {
            runs.push(run);
            break;
          }
          discarded.push(run);
          log(
            `  disturbed (${run.cpu?.other}% of a CPU used by other processes): running it again`,
          );
        }
      }
      return runs;
    };

    const statistics = (await built.statistics?.()) ?? null;
    const runs = await timeRuns(
      statistics === null ? '' : statistics === 'none' ? ' (no planner statistics)' : ' (analysed)',
    );
    let analyzedRuns: VerifyRun[] | undefined;
    if (built.analyze && statistics !== 'analysed') {
      await built.analyze();
      analyzedRuns = await timeRuns(' (after ANALYZE)');
    }
    return {
      backend: o.backend,
      appendedEvents: o.events,
      headPosition,
      buildMs,
      statistics,
      runs,
      ...(analyzedRuns ? { analyzedRuns } : {}),
      discardedRuns: discarded,
    };
  } finally {
    await built.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Opens the store afresh and times one `verifyAuditTrail` on it. */
async function verifyOnce(
  built: BuiltStore,
  anchorDir: string,
  trustedKey: string,
): Promise<VerifyRun> {
  const store = await built.open();
  try {
    const endCpu = startCpuAccounting();
    const t0 = performance.now();
    const report = await verifyAuditTrail({
      store,
      settings: built.settings,
      anchorDir,
      trustedKeys: [trustedKey],
    });
    const wallMs = performance.now() - t0;
    return {
      wallMs,
      reportMs: report.durationMs,
      ok: report.ok,
      checkedEvents: report.checkedEvents,
      checkpoints: report.checkpoints,
      unsealedEvents: report.unsealedEvents,
      warnings: report.warnings,
      failure: report.failure,
      cpu: endCpu(),
    };
  } finally {
    await store.close();
  }
}
