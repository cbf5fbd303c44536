import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { formatMarkdown } from './publish.js';
import type { BenchEvent } from './audit-event.js';
import { CONTENDER_LABELS } from './append-contenders.js';
import type { BenchOptions, Contender, VerifyBackend } from './bench-options.js';
import type { LoopResult } from './closed-loop.js';
import type { MachineInfo } from './machine-info.js';
import type { VerifyCellResult, VerifyRun } from './verify-bench.js';

/** One repetition of one append cell. */
export interface AppendRun extends Partial<LoopResult> {
  readonly contender: Contender;
  readonly writers: number;
  readonly rep: number;
  /** Events the store held after the run (must equal `totalAcked`). */
  readonly stored?: number;
  readonly durability?: string;
  readonly error?: string;
}

/** The verify part of one backend, or why it failed. */
export type VerifyOutcome =
  VerifyCellResult | { readonly backend: VerifyBackend; readonly error: string };

/** Everything one run measured (saved as JSON under bench/results/). */
export interface BenchResults {
  /** `npm run bench:event-store -- …` */
  readonly command: string;
  /** The node command line it runs (after `scripts/build.mjs --if-needed`). */
  readonly nodeCommand: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: Omit<BenchOptions, 'argv'>;
  readonly machine: MachineInfo;
  readonly event: {
    readonly bytes: { data: number; metadata: number; total: number };
    readonly sample: BenchEvent;
  };
  readonly appends: readonly AppendRun[];
  /** Runs redone because foreign processes used the CPUs (see BenchOptions.maxForeignCpu). */
  readonly discardedAppends: readonly AppendRun[];
  readonly verify: readonly VerifyOutcome[];
}

/** The markers delimiting the generated section of docs/benchmarks.md. */
export const DOC_BEGIN = '<!-- bench:event-store:begin -->';
export const DOC_END = '<!-- bench:event-store:end -->';

const DOC_INTRO = `# Benchmarks

Measured figures of sscontrol's components, each section written by the benchmark named in it
(see \`bench/README.md\` for what each cell measures and the caveats). Numbers depend on the
machine, above all on its fsync latency: compare figures from the same run only.

`;

/** Median of a non-empty list (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (n: number) => `${n >= 10 ? n.toFixed(1) : n.toFixed(2)}×`;
const ms = (n: number) => (n >= 10 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(2));

/** Median rate of a cell, or null when it has no successful run. */
export function cellMedian(
  results: BenchResults,
  contender: Contender,
  writers: number,
): number | null {
  const rates = results.appends
    .filter((r) => r.contender === contender && r.writers === writers && r.error === undefined)
    .map((r) => r.perSecond!);
  return rates.length > 0 ? median(rates) : null;
}

function cellRuns(results: BenchResults, contender: Contender, writers: number): AppendRun[] {
  return results.appends.filter((r) => r.contender === contender && r.writers === writers);
}

/** The verify rows of a backend: as built, and on PostgreSQL also after ANALYZE. */
function verifyRows(v: VerifyCellResult): [string, readonly VerifyRun[]][] {
  if (v.statistics === null) return [[v.backend, v.runs]];
  const rows: [string, readonly VerifyRun[]][] = [
    [
      `${v.backend}, as built ` +
        (v.statistics === 'none' ? '(no planner statistics yet)' : '(analysed)'),
      v.runs,
    ],
  ];
  if (v.analyzedRuns) rows.push([`${v.backend}, after ANALYZE`, v.analyzedRuns]);
  return rows;
}

/** How each committed target fared. */
export function targets(
  results: BenchResults,
): { target: string; measured: string; met: string }[] {
  const out: { target: string; measured: string; met: string }[] = [];
  const sqlite = cellMedian(results, 'sqlite', 128);
  out.push({
    target: 'SQLite ≥ 30,000 durable events/s at 128 writers, hash chain included',
    measured: sqlite === null ? 'not measured' : `${int(sqlite)} events/s`,
    met: sqlite === null ? '–' : sqlite >= 30_000 ? '**yes**' : '**no**',
  });
  const pgRate = cellMedian(results, 'postgres', 128);
  const emmett = cellMedian(results, 'emmett', 128);
  out.push({
    target: 'PostgreSQL ≥ 10× Emmett at 128 writers (same server, same run)',
    measured:
      pgRate === null || emmett === null
        ? 'not measured'
        : `${ratio(pgRate / emmett)} (${int(pgRate)} vs ${int(emmett)} events/s)`,
    met: pgRate === null || emmett === null ? '–' : pgRate >= 10 * emmett ? '**yes**' : '**no**',
  });
  for (const v of results.verify) {
    if ('error' in v) {
      out.push({
        target: `\`audit verify\` of 1,000,000 events ≤ 5 s (${v.backend})`,
        measured: `failed: ${v.error}`,
        met: '**no**',
      });
      continue;
    }
    for (const [label, runs] of verifyRows(v)) {
      const wall = median(runs.map((r) => r.wallMs)) / 1000;
      const ok = runs.every((r) => r.ok);
      const at = v.appendedEvents >= 1_000_000;
      out.push({
        target: `\`audit verify\` of 1,000,000 events ≤ 5 s (${label})`,
        measured:
          `${wall.toFixed(2)} s for ${int(v.headPosition)} events` +
          (ok ? '' : ' (report NOT ok)') +
          (at ? '' : ' (smaller store than the target)'),
        met: !at ? '–' : wall <= 5 && ok ? '**yes**' : '**no**',
      });
    }
  }
  return out;
}

/** The markdown report: setup, append table, ratios, verify, targets, per-run details. */
export function renderMarkdown(results: BenchResults): string {
  const { options, machine } = results;
  const bytes = results.event.bytes;
  const writers = options.writers;
  const contenders = options.contenders;
  const lines: string[] = [];
  const row = (cells: (string | number)[]) => lines.push(`| ${cells.join(' | ')} |`);
  const head = (cells: string[], align: string[]) => {
    row(cells);
    row(align);
  };
  const plural = (n: number) => `${n} writer${n === 1 ? '' : 's'}`;

  lines.push('## Event store: durable appends and `audit verify`', '');
  lines.push(`- Command: \`${results.command}\` (runs \`${results.nodeCommand}\`)`);
  lines.push(`- Date: ${results.startedAt} – ${results.finishedAt}`);
  lines.push(
    `- Machine: ${machine.cpus} vCPU ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, ` +
      `${machine.kernel}; Node ${machine.node}; ${machine.postgres ?? 'PostgreSQL not used'}`,
  );
  lines.push(`- PostgreSQL settings: ${machine.postgresSettings ?? '–'}`);
  lines.push(
    `- Disk: 4 KiB write + fdatasync p50 ${ms(machine.fsync.p50Ms)} ms, ` +
      `p99 ${ms(machine.fsync.p99Ms)} ms, max ${ms(machine.fsync.maxMs)} ms ` +
      `(${machine.fsync.samples} samples before the run); PostgreSQL shares the disk and the CPUs`,
  );
  lines.push(
    `- Appends: closed-loop writers, one \`connection.opened\` event per append, each to a new ` +
      `stream; ${bytes.total} bytes of canonical JSON (payload ${bytes.data} + metadata ` +
      `${bytes.metadata}); ${options.warmupSeconds} s warm-up then ${options.seconds} s measured ` +
      `per cell; ${options.reps} repetitions, each on a fresh file, schema or database; ` +
      'median shown',
  );
  const kept = results.appends.filter((r) => r.cpu);
  const verifyRuns = results.verify.flatMap((v) =>
    'error' in v ? [] : [...v.runs, ...(v.analyzedRuns ?? [])],
  );
  const verifyRedone = results.verify.reduce(
    (n, v) => n + ('error' in v ? 0 : v.discardedRuns.length),
    0,
  );
  const stillDisturbed =
    kept.filter((r) => r.cpu!.other > options.maxForeignCpu).length +
    verifyRuns.filter((r) => (r.cpu?.other ?? 0) > options.maxForeignCpu).length;
  lines.push(
    `- Foreign load: a run during which other processes (not the benchmark, not PostgreSQL ` +
      `serving it) used more than ${options.maxForeignCpu}% of a CPU is redone (at most ` +
      `${options.retries} times): ${results.discardedAppends.length + verifyRedone} runs redone; ` +
      `${stillDisturbed} kept runs still above the limit (see the "foreign CPU" columns)`,
  );
  lines.push('');

  if (contenders.length > 0) {
    lines.push('### Durable appends per second (median)', '');
    head(['contender', ...writers.map(plural)], ['---', ...writers.map(() => '---:')]);
    for (const c of contenders) {
      row([
        CONTENDER_LABELS[c],
        ...writers.map((w) => {
          const m = cellMedian(results, c, w);
          return m === null ? 'failed' : int(m);
        }),
      ]);
    }
    lines.push('');
    const ratios: [string, Contender, Contender][] = [
      ['sscontrol postgres / Emmett', 'postgres', 'emmett'],
      ['sscontrol sqlite / SQLite floor', 'sqlite', 'sqlite-floor'],
      ['sscontrol postgres / PostgreSQL floor', 'postgres', 'postgres-floor'],
      ['Emmett / PostgreSQL floor', 'emmett', 'postgres-floor'],
    ];
    const shown = ratios.filter(([, a, b]) => contenders.includes(a) && contenders.includes(b));
    if (shown.length > 0) {
      lines.push('### Ratios of the medians', '');
      head(['ratio', ...writers.map(plural)], ['---', ...writers.map(() => '---:')]);
      for (const [label, a, b] of shown) {
        row([
          label,
          ...writers.map((w) => {
            const x = cellMedian(results, a, w);
            const y = cellMedian(results, b, w);
            return x === null || y === null ? '–' : ratio(x / y);
          }),
        ]);
      }
      lines.push('');
    }
  }

  if (results.verify.length > 0) {
    lines.push('### `audit verify` (median wall time)', '');
    head(
      [
        'backend',
        'events',
        'checkpoints',
        'wall s',
        'events/s',
        'runs (s)',
        'foreign CPU %',
        'ok',
        'store built in',
      ],
      ['---', '---:', '---:', '---:', '---:', '---', '---', '---', '---:'],
    );
    for (const v of results.verify) {
      if ('error' in v) {
        row([v.backend, '–', '–', 'failed', '–', v.error.replaceAll('|', '/'), '–', 'no', '–']);
        continue;
      }
      for (const [label, runs] of verifyRows(v)) {
        const wall = median(runs.map((r) => r.wallMs));
        const checked = median(runs.map((r) => r.checkedEvents));
        row([
          label,
          int(checked),
          String(runs[0]?.checkpoints ?? 0),
          (wall / 1000).toFixed(2),
          int((checked * 1000) / wall),
          runs.map((r) => (r.wallMs / 1000).toFixed(2)).join(' / '),
          runs.map((r) => (r.cpu ? String(Math.round(r.cpu.other)) : '–')).join(' / '),
          runs.every((r) => r.ok)
            ? 'yes'
            : `**no**: ${runs.find((r) => !r.ok)?.failure?.detail ?? '?'}`,
          `${(v.buildMs / 1000).toFixed(0)} s (${int((v.headPosition * 1000) / v.buildMs)} ev/s)`,
        ]);
      }
    }
    lines.push('');
  }

  lines.push('### Targets', '');
  head(['target', 'measured', 'met'], ['---', '---', '---']);
  for (const t of targets(results)) row([t.target, t.measured, t.met]);
  lines.push('');

  if (contenders.length > 0) {
    lines.push('<details><summary>Every run (events/s; latency of the median run)</summary>', '');
    head(
      [
        'contender',
        'writers',
        'runs (events/s)',
        'p50 ms',
        'p99 ms',
        'foreign CPU % per run',
        'durability checked',
      ],
      ['---', '---:', '---', '---:', '---:', '---', '---'],
    );
    for (const c of contenders) {
      for (const w of writers) {
        const runs = cellRuns(results, c, w);
        const okRuns = runs.filter((r) => r.error === undefined);
        const med = cellMedian(results, c, w);
        const mid = okRuns.reduce<AppendRun | undefined>(
          (best, r) =>
            best === undefined || Math.abs(r.perSecond! - med!) < Math.abs(best.perSecond! - med!)
              ? r
              : best,
          undefined,
        );
        row([
          c,
          w,
          runs.map((r) => (r.error === undefined ? int(r.perSecond!) : 'failed')).join(' / '),
          mid ? ms(mid.latencyMs!.p50) : '–',
          mid ? ms(mid.latencyMs!.p99) : '–',
          runs.map((r) => (r.cpu ? String(Math.round(r.cpu.other)) : '–')).join(' / '),
          (okRuns[0]?.durability ?? runs.find((r) => r.error)?.error ?? '').replaceAll('|', '/'),
        ]);
      }
    }
    lines.push('', '</details>', '');
  }
  return lines.join('\n');
}

/** Formats markdown as the repository's prettier settings would (padded tables). */
export { formatMarkdown };

/** Replaces the generated section of `file` (creating the file, or the markers, when missing). */
export async function writeDocSection(file: string, markdown: string): Promise<void> {
  const section = `${DOC_BEGIN}\n${markdown.trimEnd()}\n${DOC_END}`;
  mkdirSync(path.dirname(file), { recursive: true });
  const current = existsSync(file) ? readFileSync(file, 'utf8') : DOC_INTRO;
  const begin = current.indexOf(DOC_BEGIN);
  const end = current.indexOf(DOC_END);
  const next =
    begin >= 0 && end > begin
      ? `${current.slice(0, begin)}${section}${current.slice(end + DOC_END.length)}`
      : `${current.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, await formatMarkdown(next, file));
}
