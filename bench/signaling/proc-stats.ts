// What the benchmark reads from /proc about the processes it started: CPU time, resident memory,
// open descriptors and their limit. Everything returns null (or 0) where /proc is missing.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let ticksPerSecond: number | null = null;

/** Clock ticks per second of the times in /proc/<pid>/stat (`getconf CLK_TCK`, usually 100). */
export function clockTicks(): number {
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

/** utime + stime of a process, all its threads, in clock ticks; null when it is gone. */
export function cpuTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: utime is field 14, stime 15 (1-based, counting pid and comm).
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

function statusField(pid: number, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Resident set size (VmRSS) in KiB. */
export const rssKiB = (pid: number): number | null => statusField(pid, 'VmRSS');

/** Peak resident set size (VmHWM) in KiB. */
export const peakRssKiB = (pid: number): number | null => statusField(pid, 'VmHWM');

/** Open file descriptors of a process. */
export function openFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** The soft RLIMIT_NOFILE of a process (`Max open files` in /proc/<pid>/limits). */
export function nofileLimit(pid: number): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(
      readFileSync(`/proc/${pid}/limits`, 'utf8'),
    );
    if (!m) return null;
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return null;
  }
}

/** CPUs a process may run on (`Cpus_allowed_list`), e.g. `0` or `0-1`. */
export function cpuAffinity(pid: number | 'self' = 'self'): string {
  try {
    return (
      /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '?'
    );
  } catch {
    return '?';
  }
}

function busyTicks(): { busy: number; idle: number } | null {
  try {
    const v = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0] =
      v.map(Number);
    return { busy: user + nice + system + irq + softirq, idle: idle + iowait };
  } catch {
    return null;
  }
}

/**
 * Where the machine's CPU went during a window, in percent of one CPU (a 2-vCPU machine has
 * 200): per named process of the benchmark, and `other` for everything else (a build, a linter,
 * someone's tests) — the figure that flags a disturbed run.
 */
export interface CpuWindow {
  readonly processes: Readonly<Record<string, number>>;
  readonly other: number;
  readonly idle: number;
  /** CPU time (µs) each named process used in the window. */
  readonly cpuUs: Readonly<Record<string, number>>;
  readonly seconds: number;
}

/**
 * Starts accounting the CPU of `pids` (name → pid); the returned function ends the window.
 * The benchmark's own idle processes (the parent) belong in `pids` too, or they count as other.
 */
export function startCpuWindow(pids: Readonly<Record<string, number>>): () => CpuWindow | null {
  const t0 = performance.now();
  const total0 = busyTicks();
  const own0 = Object.fromEntries(Object.entries(pids).map(([n, p]) => [n, cpuTicks(p) ?? 0]));
  return () => {
    const total1 = busyTicks();
    const seconds = (performance.now() - t0) / 1000;
    if (!total0 || !total1 || seconds <= 0) return null;
    const hz = clockTicks();
    const pct = (ticks: number) => Math.round((ticks / hz / seconds) * 1000) / 10;
    const processes: Record<string, number> = {};
    const cpuUs: Record<string, number> = {};
    let ours = 0;
    for (const [name, pid] of Object.entries(pids)) {
      const d = Math.max(0, (cpuTicks(pid) ?? own0[name]!) - own0[name]!);
      ours += d;
      processes[name] = pct(d);
      cpuUs[name] = (d / hz) * 1e6;
    }
    return {
      processes,
      cpuUs,
      other: pct(Math.max(0, total1.busy - total0.busy - ours)),
      idle: pct(total1.idle - total0.idle),
      seconds,
    };
  };
}
