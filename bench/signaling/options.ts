import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { parseOnly } from '../cell-process.js';
import { SERVER_ROWS, type ServerRow } from './servers.js';

/** The measurements of a run, in the order they run. */
export const MEASUREMENTS = ['candidate', 'offer', 'latency', 'idle'] as const;
export type Measurement = (typeof MEASUREMENTS)[number];

/** What one run of `bench:signaling` measures. */
export interface SignalingBenchOptions {
  readonly quick: boolean;
  readonly rows: readonly ServerRow[];
  readonly measurements: readonly Measurement[];
  /** Client pairs of the relay cells (throughput and latency). */
  readonly pairs: number;
  /** Candidates each client keeps in flight to its partner (throughput). */
  readonly window: number;
  /** Offer → answer exchanges each pair keeps in flight (offer throughput). */
  readonly offerWindow: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly latencySeconds: number;
  /** Offered load of the latency cells, messages per second in all. */
  readonly rate: number;
  readonly reps: number;
  /** Idle connections at each step (the last is capped by the server's open-files limit). */
  readonly idleSteps: readonly number[];
  /** Seconds the idle connections are held at the top step (keep-alives keep flowing). */
  readonly holdSeconds: number;
  /** Seconds between reaching a step and reading the server's RSS. */
  readonly settleSeconds: number;
  readonly serverCpu: number | null;
  readonly loadCpu: number | null;
  readonly dir: string;
  /** Where each server process writes a CPU profile (`node --cpu-prof`), or null. */
  readonly cpuProfDir: string | null;
  readonly maxForeignCpu: number;
  readonly retries: number;
  readonly quietWaitSeconds: number;
  readonly writeDocs: boolean;
  readonly argv: readonly string[];
}

export const USAGE = `usage: npm run bench:signaling -- [options]
  --quick              a short smoke run (10 pairs, 2 s cells, 1 rep, up to 1,000 idle
                       connections, ~1-2 min; implies --no-docs)
  --only LIST          servers: ${SERVER_ROWS.join(',')} (default all)
  --measure LIST       ${MEASUREMENTS.join(',')} (default all)
  --pairs N            client pairs in the relay cells (default 50)
  --window N           candidates in flight per client (default 16)
  --offer-window N     offer/answer exchanges in flight per pair (default 1)
  --seconds N          measured seconds per throughput cell (default 4)
  --warmup N           warm-up seconds per relay cell (default 1)
  --latency-seconds N  measured seconds per latency cell (default 5)
  --rate N             offered messages/s of the latency cells (default 2000)
  --reps N             repetitions of the relay cells, median reported (default 3)
  --idle-steps LIST    idle connections per step (default 1000,5000,10000,15000,20000)
  --hold N             seconds the top idle step is held (default 5)
  --settle N           seconds before each RSS reading (default 2)
  --server-cpu N|none  CPU the servers (and Redis) are pinned to (default 0)
  --load-cpu N|none    CPU the load processes are pinned to (default the last CPU)
  --dir PATH           work directory (default the OS temp dir)
  --cpu-prof DIR       run every server with node --cpu-prof, profiles in DIR/cell-<n>-<server>/
                       (open them in Chrome DevTools; profiling slows the servers)
  --max-foreign-cpu N  redo a relay cell in which other processes used more than N% of one CPU
                       (default 25)
  --retries N          redo a disturbed cell at most N times (default 2)
  --quiet-wait N       before each cell wait up to N s for foreign load to drop (default 60)
  --no-docs            do not update docs/benchmarks.md`;

function number(
  name: string,
  value: string | undefined,
  fallback: number,
  { integer = true, min = 1 } = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}\n${USAGE}`);
  }
  return n;
}

function cpu(name: string, value: string | undefined, fallback: number | null): number | null {
  const cpus = os.cpus().length;
  if (value === undefined) return cpus < 2 ? null : fallback;
  if (value === 'none') return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n >= cpus) {
    throw new Error(`--${name} must be 0-${cpus - 1} or none\n${USAGE}`);
  }
  return n;
}

export function parseOptions(argv: readonly string[]): SignalingBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      measure: { type: 'string' },
      pairs: { type: 'string' },
      window: { type: 'string' },
      'offer-window': { type: 'string' },
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      'latency-seconds': { type: 'string' },
      rate: { type: 'string' },
      reps: { type: 'string' },
      'idle-steps': { type: 'string' },
      hold: { type: 'string' },
      settle: { type: 'string' },
      'server-cpu': { type: 'string' },
      'load-cpu': { type: 'string' },
      dir: { type: 'string' },
      'cpu-prof': { type: 'string' },
      'max-foreign-cpu': { type: 'string' },
      retries: { type: 'string' },
      'quiet-wait': { type: 'string' },
      'no-docs': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const rows = parseOnly(values.only, SERVER_ROWS, USAGE);
  const measurements = parseOnly(values.measure, MEASUREMENTS, USAGE);
  const steps = (values['idle-steps'] ?? (quick ? '100,500,1000' : '1000,5000,10000,15000,20000'))
    .split(',')
    .map((s) => number('idle-steps', s.trim(), 0));
  if (steps.some((s, i) => i > 0 && s <= steps[i - 1]!)) {
    throw new Error(`--idle-steps must increase\n${USAGE}`);
  }
  const serverCpu = cpu('server-cpu', values['server-cpu'], 0);
  const loadCpu = cpu('load-cpu', values['load-cpu'], os.cpus().length - 1);
  if (serverCpu !== null && serverCpu === loadCpu) {
    throw new Error(`--server-cpu and --load-cpu must differ\n${USAGE}`);
  }
  return {
    quick,
    rows: SERVER_ROWS.filter((r) => !rows || rows.includes(r)),
    measurements: MEASUREMENTS.filter((m) => !measurements || measurements.includes(m)),
    pairs: number('pairs', values.pairs, quick ? 10 : 50),
    window: number('window', values.window, 16),
    offerWindow: number('offer-window', values['offer-window'], 1),
    seconds: number('seconds', values.seconds, quick ? 2 : 4, { integer: false }),
    warmupSeconds: number('warmup', values.warmup, 1, { integer: false, min: 0 }),
    latencySeconds: number('latency-seconds', values['latency-seconds'], quick ? 3 : 5, {
      integer: false,
    }),
    rate: number('rate', values.rate, 2000),
    reps: number('reps', values.reps, quick ? 1 : 3),
    idleSteps: steps,
    holdSeconds: number('hold', values.hold, quick ? 2 : 5, { integer: false, min: 0 }),
    settleSeconds: number('settle', values.settle, quick ? 1 : 2, { integer: false, min: 0 }),
    serverCpu,
    loadCpu,
    dir: values.dir ?? tmpdir(),
    cpuProfDir: values['cpu-prof'] === undefined ? null : path.resolve(values['cpu-prof']),
    maxForeignCpu: number('max-foreign-cpu', values['max-foreign-cpu'], 25, { integer: false }),
    retries: number('retries', values.retries, 2, { min: 0 }),
    quietWaitSeconds: number('quiet-wait', values['quiet-wait'], quick ? 10 : 60, {
      integer: false,
      min: 0,
    }),
    writeDocs: !values['no-docs'] && !quick,
    argv: [...argv],
  };
}
