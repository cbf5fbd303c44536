import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The machine a run measured. */
export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** `SELECT version()`, or null when no PostgreSQL contender ran. */
  readonly postgres: string | null;
  /** Server settings that shape the results (autovacuum, shared_buffers, WAL…). */
  readonly postgresSettings: string | null;
  /** 4 KiB write + fdatasync latencies in the benchmark directory. */
  readonly fsync: FsyncProbe;
}

/** Latency of a durable 4 KiB write on the disk under the benchmark directory. */
export interface FsyncProbe {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/**
 * Times `samples` rewrites of a 4 KiB block followed by fdatasync (what a WAL commit costs the
 * disk at least): the floor under any durable append on this machine.
 */
export function probeFsync(dir: string, samples = 1000): FsyncProbe {
  const tmp = mkdtempSync(path.join(dir, 'sscontrol-bench-fsync-'));
  const fd = openSync(path.join(tmp, 'probe'), 'w');
  const block = Buffer.alloc(4096, 0x5a);
  const times = new Float64Array(samples);
  try {
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      writeSync(fd, block, 0, block.length, (i % 64) * block.length);
      fdatasyncSync(fd);
      times[i] = performance.now() - t0;
    }
  } finally {
    closeSync(fd);
    rmSync(tmp, { recursive: true, force: true });
  }
  times.sort();
  const at = (q: number) => times[Math.min(samples - 1, Math.floor(q * samples))]!;
  return { samples, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: times[samples - 1]! };
}

/** Describes this machine; `postgres` is the server's `SELECT version()`. */
export function machineInfo(
  postgres: string | null,
  postgresSettings: string | null,
  fsync: FsyncProbe,
): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    postgres,
    postgresSettings,
    fsync,
  };
}
