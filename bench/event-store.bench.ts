// Event store benchmark: durable appends per second of sscontrol (sqlite, postgres) against
// Emmett and raw single-INSERT floors, and `audit verify` of a 1,000,000-event trail.
//   npm run bench:event-store -- [--seconds 5] [--reps 3] [--only sqlite,postgres]
//                                 [--writers 1,16,128]
//                                 [--verify-events 1000000] [--skip-verify] [--no-docs]
// Every cell runs in a child process of its own, on a fresh file, schema or database, dropped
// afterwards. See bench/README.md.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openContender } from './append-contenders.js';
import { log, runBench, spawnCell } from './cell-process.js';
import { auditEvent, checkAuditEvent, eventBytes } from './audit-event.js';
import { parseBenchOptions, type BenchOptions, type Contender } from './bench-options.js';
import { closedLoop, type LoopResult } from './closed-loop.js';
import { countDatabasesAsBench, waitForQuiet } from './cpu-usage.js';
import { machineInfo, probeFsync } from './machine-info.js';
import {
  BENCH_DATABASE,
  checkDurable,
  checkpoint,
  dropDatabase,
  EMMETT_DATABASE,
  recreateDatabase,
  serverSettings,
  serverVersion,
} from './postgres-admin.js';
import {
  formatMarkdown,
  renderMarkdown,
  writeDocSection,
  type AppendRun,
  type BenchResults,
  type VerifyOutcome,
} from './report.js';
import { runVerifyCell, type VerifyCellOptions, type VerifyCellResult } from './verify-bench.js';

/** What the parent asks a child process to measure. */
type ChildSpec =
  | {
      readonly kind: 'append';
      readonly contender: Contender;
      readonly writers: number;
      readonly seconds: number;
      readonly warmupSeconds: number;
      readonly postgresUrl: string;
      readonly dir: string;
    }
  | ({ readonly kind: 'verify' } & VerifyCellOptions);

/** What a child reports on its last stdout line. */
type ChildResult =
  | {
      readonly kind: 'append';
      readonly loop: LoopResult;
      readonly stored: number;
      readonly durability: string;
    }
  | { readonly kind: 'verify'; readonly result: VerifyCellResult };

const PG_CONTENDERS: readonly Contender[] = ['postgres', 'emmett', 'postgres-floor'];
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const int = (n: number) => Math.round(n).toLocaleString('en-US');

async function runChild(spec: ChildSpec): Promise<ChildResult> {
  if (spec.kind === 'verify') {
    return { kind: 'verify', result: await runVerifyCell(spec, log) };
  }
  const target = await openContender(spec.contender, {
    postgresUrl: spec.postgresUrl,
    dir: spec.dir,
  });
  let loop: LoopResult;
  try {
    loop = await closedLoop(
      (seq) => target.append(auditEvent(seq)),
      spec.writers,
      spec.warmupSeconds * 1000,
      spec.seconds * 1000,
    );
  } catch (error) {
    await target.finish().catch(() => undefined);
    throw error;
  }
  const stored = await target.finish();
  if (stored !== loop.totalAcked) {
    throw new Error(
      `${spec.contender} acknowledged ${loop.totalAcked} appends but holds ${stored} events`,
    );
  }
  return { kind: 'append', loop, stored, durability: target.durability };
}

/**
 * Copies the compiled code to a private directory, so that every cell of the run executes the
 * same code even if dist/ is rebuilt (removed and rewritten) while the benchmark runs. Packages
 * resolve through a link to node_modules; the migrations are copied.
 */
function snapshotCode(): { readonly entry: string; remove(): void } {
  const base = mkdtempSync(path.join(tmpdir(), 'sscontrol-bench-code-'));
  cpSync(path.join(ROOT, 'dist'), path.join(base, 'dist'), { recursive: true });
  cpSync(path.join(ROOT, 'migrations'), path.join(base, 'migrations'), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(base, 'package.json'));
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(base, 'node_modules'), 'dir');
  const entry = path.join(base, 'dist', 'bench', 'event-store.bench.js');
  for (const file of [
    entry,
    'dist/bench/sqlite-floor.worker.js',
    'dist/libs/event-store/src/sqlite/sqlite-writer.worker.js',
    'dist/libs/event-store/src/verify/verify-chain.worker.js',
  ]) {
    if (!existsSync(path.resolve(base, file)))
      throw new Error(`${file} is missing from the build: rebuild and retry`);
  }
  return { entry, remove: () => rmSync(base, { recursive: true, force: true }) };
}

let childEntry = fileURLToPath(import.meta.url);

/** The command line as npm runs it, and the node command it comes down to. */
function commandLines(argv: readonly string[]): { npm: string; node: string } {
  const args = argv
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`))
    .join(' ');
  return {
    npm: `npm run bench:event-store${args ? ` -- ${args}` : ''}`,
    node: `node --enable-source-maps dist/bench/event-store.bench.js${args ? ` ${args}` : ''}`,
  };
}

/**
 * Lets the disk and PostgreSQL settle so that no cell pays for the previous one's writes, then
 * waits (up to --quiet-wait) for foreign processes to leave the CPUs alone.
 */
async function settle(options: BenchOptions, usesPostgres: boolean): Promise<void> {
  execFileSync('sync');
  if (usesPostgres) await checkpoint(options.postgresUrl);
  await waitForQuiet(options.maxForeignCpu / 2, options.quietWaitSeconds * 1000, log);
}

function describeRun(r: LoopResult, stored: number): string {
  const cpu = r.cpu
    ? `; cpu % bench ${r.cpu.bench} postgres ${r.cpu.postgres} (+${r.cpu.postgresExited} exited) ` +
      `other ${r.cpu.other} ` +
      `iowait ${r.cpu.iowait} steal ${r.cpu.steal}`
    : '';
  return (
    `${int(r.perSecond)} ev/s (p50 ${r.latencyMs.p50.toFixed(2)} ms, ` +
    `p99 ${r.latencyMs.p99.toFixed(2)} ms; ` +
    `${int(stored)} events stored${cpu})`
  );
}

async function runAppends(
  options: BenchOptions,
  usesPostgres: boolean,
): Promise<{ runs: AppendRun[]; discarded: AppendRun[] }> {
  const runs: AppendRun[] = [];
  const discarded: AppendRun[] = [];
  const n = options.contenders.length;
  const cellTimeout = (options.warmupSeconds + options.seconds) * 1000 + 180_000;
  for (let rep = 1; rep <= options.reps; rep++) {
    for (const writers of options.writers) {
      // Contenders take turns going first, so none always runs right after the same neighbour.
      const order = options.contenders.map((_, i) => options.contenders[(i + rep - 1) % n]!);
      for (const contender of order) {
        const label = `[rep ${rep}/${options.reps}] ${contender} × ${writers}`;
        for (let attempt = 0; ; attempt++) {
          let run: AppendRun;
          try {
            await settle(options, usesPostgres);
            const r = await spawnCell<ChildSpec, ChildResult>(
              childEntry,
              {
                kind: 'append',
                contender,
                writers,
                seconds: options.seconds,
                warmupSeconds: options.warmupSeconds,
                postgresUrl: options.postgresUrl,
                dir: options.dir,
              },
              { timeoutMs: cellTimeout },
            );
            if (r.kind !== 'append') throw new Error('unexpected child result');
            run = {
              contender,
              writers,
              rep,
              ...r.loop,
              stored: r.stored,
              durability: r.durability,
            };
            log(`${label}: ${describeRun(r.loop, r.stored)}`);
          } catch (error) {
            const message = (error as Error).message;
            runs.push({ contender, writers, rep, error: message });
            log(`${label}: FAILED ${message}`);
            break;
          }
          const foreign = run.cpu?.other ?? 0;
          if (foreign <= options.maxForeignCpu || attempt >= options.retries) {
            runs.push(run);
            break;
          }
          discarded.push(run);
          log(`  disturbed (${foreign}% of a CPU used by other processes): running it again`);
        }
      }
    }
  }
  return { runs, discarded };
}

async function runVerify(options: BenchOptions, usesPostgres: boolean): Promise<VerifyOutcome[]> {
  const out: VerifyOutcome[] = [];
  for (const backend of options.verifyBackends) {
    log(`[verify] ${backend}: building a store of ${int(options.verifyEvents)} events`);
    try {
      await settle(options, usesPostgres);
      const r = await spawnCell<ChildSpec, ChildResult>(
        childEntry,
        {
          kind: 'verify',
          backend,
          events: options.verifyEvents,
          reps: options.reps,
          postgresUrl: options.postgresUrl,
          dir: options.dir,
          maxForeignCpu: options.maxForeignCpu,
          retries: options.retries,
          quietWaitSeconds: options.quietWaitSeconds,
        },
        { timeoutMs: 6 * 3600_000 },
      );
      if (r.kind !== 'verify') throw new Error('unexpected child result');
      out.push(r.result);
    } catch (error) {
      out.push({ backend, error: (error as Error).message });
      log(`[verify] ${backend}: FAILED ${(error as Error).message}`);
    }
  }
  return out;
}

async function measure(
  options: BenchOptions,
  usesPostgres: boolean,
  verifying: boolean,
): Promise<{ appends: AppendRun[]; discarded: AppendRun[]; verify: VerifyOutcome[] }> {
  const { runs, discarded } = await runAppends(options, usesPostgres);
  const verify = verifying ? await runVerify(options, usesPostgres) : [];
  return { appends: runs, discarded, verify };
}

async function main(): Promise<number> {
  const options = parseBenchOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const verifying = options.verifyEvents > 0 && options.verifyBackends.length > 0;
  const usesPostgres =
    options.contenders.some((c) => PG_CONTENDERS.includes(c)) ||
    (verifying && options.verifyBackends.includes('postgres'));

  const sample = auditEvent(0);
  checkAuditEvent(sample);
  const bytes = eventBytes(sample);
  const fsync = probeFsync(options.dir);
  log(`fdatasync of 4 KiB: p50 ${fsync.p50Ms.toFixed(3)} ms, p99 ${fsync.p99Ms.toFixed(3)} ms`);
  let postgres: string | null = null;
  let postgresSettings: string | null = null;
  if (usesPostgres) {
    postgres = await serverVersion(options.postgresUrl);
    postgresSettings = await serverSettings(options.postgresUrl);
    log(`${postgres}: ${await checkDurable(options.postgresUrl, 'server')}`);
    await recreateDatabase(options.postgresUrl, BENCH_DATABASE);
  }
  const machine = machineInfo(postgres, postgresSettings, fsync);
  log(`event: ${bytes.total} bytes (payload ${bytes.data} + metadata ${bytes.metadata})`);

  const code = snapshotCode();
  childEntry = code.entry;
  const { appends, discarded, verify } = await measure(options, usesPostgres, verifying).finally(
    async () => {
      code.remove();
      if (usesPostgres) {
        await dropDatabase(options.postgresUrl, BENCH_DATABASE).catch(() => undefined);
        await dropDatabase(options.postgresUrl, EMMETT_DATABASE).catch(() => undefined);
      }
    },
  );

  const { argv, ...settings } = options;
  const results: BenchResults = {
    command: commandLines(argv).npm,
    nodeCommand: commandLines(argv).node,
    startedAt,
    finishedAt: new Date().toISOString(),
    options: settings,
    machine,
    event: { bytes, sample },
    appends,
    discardedAppends: discarded,
    verify,
  };
  const markdown = await formatMarkdown(
    renderMarkdown(results),
    path.join(ROOT, 'docs', 'benchmarks.md'),
  );
  process.stdout.write(`${markdown}\n`);
  const resultsDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const jsonFile = path.join(resultsDir, `event-store-${startedAt.replace(/[:.]/g, '-')}.json`);
  writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  log(`raw results: ${path.relative(ROOT, jsonFile)}`);
  if (options.writeDocs) {
    await writeDocSection(path.join(ROOT, 'docs', 'benchmarks.md'), markdown);
    log('updated docs/benchmarks.md');
  }
  const failed = appends.some((r) => r.error !== undefined) || verify.some((v) => 'error' in v);
  return failed ? 1 : 0;
}

countDatabasesAsBench(BENCH_DATABASE, EMMETT_DATABASE);
await runBench(main, runChild);
