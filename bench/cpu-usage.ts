import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/**
 * Where the machine's CPU went during a measured window, in percent of one CPU (a 2-vCPU machine
 * has 200). `postgres` is the server's own processes and its backends serving the benchmark's
 * databases; `other` is everything else, sessions of other databases included: on a shared
 * machine it flags runs disturbed by foreign work (a build, a linter, tests).
 */
export interface CpuShare {
  readonly bench: number;
  readonly postgres: number;
  /**
   * PostgreSQL processes that ended inside the window (parallel query workers, closed sessions),
   * charged to the postmaster when it reaps them. Counted apart from `other` because a plan with
   * parallel workers would otherwise look like foreign load; sessions of other databases that
   * open and close inside the window land here too.
   */
  readonly postgresExited: number;
  readonly other: number;
  readonly iowait: number;
  readonly steal: number;
  readonly idle: number;
}

interface Snapshot {
  readonly total: number[];
  readonly bench: number;
  readonly postgres: number;
  readonly postgresExited: number;
  readonly at: number;
}

let ticksPerSecond: number | null = null;

function clockTicks(): number {
  if (ticksPerSecond === null) {
    try {
      ticksPerSecond =
        Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** Databases whose backends count as the benchmark's (the others are foreign load). */
const benchDatabases = new Set<string>();

/** Counts the backends of these databases as PostgreSQL working for the benchmark. */
export function countDatabasesAsBench(...names: string[]): void {
  for (const n of names) benchDatabases.add(n);
}

/**
 * What a PostgreSQL process is: the postmaster, a backend of another database (foreign), or one
 * working for the benchmark (the server's own processes count as the benchmark's). A backend's
 * title is `postgres: <cluster>: <user> <database> <host>(<port>) <state>`.
 */
function postgresRole(pid: string): 'postmaster' | 'bench' | 'foreign' {
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    if (!title.startsWith('postgres: ')) return 'postmaster';
    const m = /^postgres: [^:]+: (\S+) (\S+) (\S+\(\d+\)|\[local\])/.exec(title);
    return m === null || benchDatabases.has(m[2]!) ? 'bench' : 'foreign';
  } catch {
    return 'foreign';
  }
}

/**
 * utime + stime of a process (all its threads) and cutime + cstime of its reaped children, in
 * clock ticks, and its command name.
 */
function processTicks(pid: string): { comm: string; ticks: number; children: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // After the command: state is field 3, utime 14, stime 15, cutime 16, cstime 17 (1-based).
    return {
      comm,
      ticks: Number(fields[11]) + Number(fields[12]),
      children: Number(fields[13]) + Number(fields[14]),
    };
  } catch {
    return null;
  }
}

function snapshot(): Snapshot | null {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8')
      .split('\n')[0]!
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    let bench = 0;
    let postgres = 0;
    let postgresExited = 0;
    for (const pid of readdirSync('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const p = processTicks(pid);
      if (!p) continue;
      if (Number(pid) === process.pid) {
        bench += p.ticks;
        continue;
      }
      if (p.comm !== 'postgres') continue;
      const role = postgresRole(pid);
      if (role === 'postmaster') {
        postgres += p.ticks;
        postgresExited += p.children;
      } else if (role === 'bench') postgres += p.ticks;
    }
    return { total: cpu, bench, postgres, postgresExited, at: performance.now() };
  } catch {
    return null;
  }
}

/**
 * Starts accounting; the returned function ends it. Returns null on systems without /proc.
 * Short-lived processes that come and go inside the window land in `other`, except PostgreSQL's
 * (see {@link CpuShare.postgresExited}).
 */
export function startCpuAccounting(): () => CpuShare | null {
  const start = snapshot();
  return () => {
    const end = snapshot();
    if (!start || !end) return null;
    const d = end.total.map((v, i) => v - (start.total[i] ?? 0));
    // user nice system idle iowait irq softirq steal
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] =
      d;
    const busy = user + nice + system + irq + softirq;
    const seconds = (end.at - start.at) / 1000;
    const pct = (ticks: number) => Math.round((ticks / clockTicks() / seconds) * 1000) / 10;
    const bench = end.bench - start.bench;
    const postgres = end.postgres - start.postgres;
    const exited = end.postgresExited - start.postgresExited;
    return {
      bench: pct(bench),
      postgres: pct(postgres),
      postgresExited: pct(exited),
      other: pct(Math.max(0, busy - bench - postgres - exited)),
      iowait: pct(iowait),
      steal: pct(steal),
      idle: pct(idle),
    };
  };
}

/**
 * Waits, up to `maxWaitMs`, until processes other than the benchmark and its PostgreSQL use at
 * most `limit` percent of one CPU over a 1-second sample. Returns the last sample's figure.
 */
export async function waitForQuiet(
  limit: number,
  maxWaitMs: number,
  log: (line: string) => void,
): Promise<number> {
  const deadline = performance.now() + maxWaitMs;
  let waited = false;
  for (;;) {
    const end = startCpuAccounting();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const other = end()?.other ?? 0;
    if (other <= limit || performance.now() >= deadline) {
      if (waited) log(`  foreign CPU now ${other}% of a CPU: going on`);
      return other;
    }
    if (!waited)
      log(`  waiting for foreign load to drop (${other}% of a CPU used by other processes)`);
    waited = true;
  }
}
