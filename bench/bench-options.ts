import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { parseOnly } from './cell-process.js';
import { loadTestEnvironment } from '@sscontrol/config';

/** The append contenders, in the order the report lists them. */
export const CONTENDERS = [
  'sqlite',
  'sqlite-floor',
  'postgres',
  'emmett',
  'postgres-floor',
] as const;

/** One append contender. */
export type Contender = (typeof CONTENDERS)[number];

/** Backends whose `audit verify` is measured. */
export const VERIFY_BACKENDS = ['sqlite', 'postgres'] as const;

/** A backend whose `audit verify` is measured. */
export type VerifyBackend = (typeof VERIFY_BACKENDS)[number];

/** What one run of the benchmark measures. */
export interface BenchOptions {
  /** Measured seconds per append cell. */
  readonly seconds: number;
  /** Warm-up seconds before each measurement (same store, same writers, not counted). */
  readonly warmupSeconds: number;
  /** Repetitions of every cell, each on a fresh store; the report shows the median. */
  readonly reps: number;
  /** Append contenders to run (empty with --skip-appends). */
  readonly contenders: readonly Contender[];
  readonly writers: readonly number[];
  /** Events in the store that `audit verify` checks; 0 skips the verify part. */
  readonly verifyEvents: number;
  readonly verifyBackends: readonly VerifyBackend[];
  /** Server (and maintenance database) the PostgreSQL contenders use. */
  readonly postgresUrl: string;
  /** Where SQLite files, keys and anchors are created. */
  readonly dir: string;
  /**
   * A run during which processes other than the benchmark and its PostgreSQL used more than this
   * (percent of one CPU) is discarded and run again, up to `retries` times.
   */
  readonly maxForeignCpu: number;
  readonly retries: number;
  /** Before each cell, wait up to this many seconds for foreign CPU use to drop below the limit. */
  readonly quietWaitSeconds: number;
  /** Write the table into docs/benchmarks.md. */
  readonly writeDocs: boolean;
  /** The arguments as given, for the report. */
  readonly argv: readonly string[];
}

const USAGE = `usage: npm run bench:event-store -- [options]
  --seconds N          measured seconds per cell (default 5)
  --warmup N           warm-up seconds per cell (default 2)
  --reps N             repetitions per cell, median reported (default 3)
  --only LIST          contenders: ${CONTENDERS.join(',')} (default all;
                       verify runs for the sqlite/postgres backends listed)
  --writers LIST       concurrent closed-loop writers (default 1,16,128)
  --verify-events N    events in the verified store (default 1000000)
  --skip-verify        skip the audit verify part
  --skip-appends       skip the append part
  --pg-url URL         PostgreSQL server (default $TEST_POSTGRES_URL, else
                       postgres://postgres@127.0.0.1:5432/test)
  --dir PATH           directory for SQLite files (default the OS temp dir)
  --max-foreign-cpu N  redo a run in which other processes used more than N% of one CPU
                       (default 25)
  --retries N          redo a disturbed run at most N times (default 2; 0 keeps every run)
  --quiet-wait N       before each cell wait up to N s for foreign load to drop (default 60)
  --no-docs            do not update docs/benchmarks.md`;

function positive(
  name: string,
  value: string | undefined,
  fallback: number,
  integer = true,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new Error(
      `--${name} must be a positive ${integer ? 'integer' : 'number'}, got ${value}\n${USAGE}`,
    );
  }
  return n;
}

/** Parses the command line (`process.argv.slice(2)`); throws with the usage on a bad option. */
export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      reps: { type: 'string' },
      only: { type: 'string' },
      writers: { type: 'string' },
      'verify-events': { type: 'string' },
      'skip-verify': { type: 'boolean' },
      'skip-appends': { type: 'boolean' },
      'pg-url': { type: 'string' },
      dir: { type: 'string' },
      'no-docs': { type: 'boolean' },
      'max-foreign-cpu': { type: 'string' },
      retries: { type: 'string' },
      'quiet-wait': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const only = parseOnly(values.only, CONTENDERS, USAGE);
  const contenders = values['skip-appends']
    ? []
    : CONTENDERS.filter((c) => !only || only.includes(c));
  const writers = (values.writers ?? '1,16,128')
    .split(',')
    .map((w) => positive('writers', w.trim(), 1));
  const verifyEvents = values['skip-verify']
    ? 0
    : positive('verify-events', values['verify-events'], 1_000_000);
  return {
    seconds: positive('seconds', values.seconds, 5, false),
    warmupSeconds: values.warmup === '0' ? 0 : positive('warmup', values.warmup, 2, false),
    reps: positive('reps', values.reps, 3),
    contenders,
    writers: [...new Set(writers)].sort((a, b) => a - b),
    verifyEvents,
    verifyBackends: VERIFY_BACKENDS.filter((b) => !only || only.includes(b)),
    postgresUrl: values['pg-url'] ?? loadTestEnvironment().postgresUrl,
    dir: values.dir ?? tmpdir(),
    maxForeignCpu: positive('max-foreign-cpu', values['max-foreign-cpu'], 25, false),
    retries: values.retries === '0' ? 0 : positive('retries', values.retries, 2),
    quietWaitSeconds:
      values['quiet-wait'] === '0' ? 0 : positive('quiet-wait', values['quiet-wait'], 60, false),
    writeDocs: !values['no-docs'],
    argv: [...argv],
  };
}

/** The same server with another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
