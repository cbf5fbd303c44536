// The memory cell, run by the parent: idle connections opened in steps by load processes of
// their own (one process cannot hold more sockets than its open-files limit), the server's RSS
// read from /proc at each step once the connections settled.
import { type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IdleLoadSpec, IdleRequest, IdleStatus } from './idle-load.js';
import { nofileLimit, openFds, rssKiB, startCpuWindow, type CpuWindow } from './proc-stats.js';
import { spawnPinned, type CodeDir } from './servers.js';
import type { Endpoint } from './wire.js';

/** One step of the memory cell. */
export interface IdleStep {
  readonly target: number;
  /** Authenticated connections held when the RSS was read. */
  readonly held: number;
  readonly rssKiB: number;
  readonly fds: number;
  /** Seconds the step took to open (all load processes). */
  readonly openSeconds: number;
}

export interface IdleCellResult {
  readonly baselineRssKiB: number;
  readonly baselineFds: number;
  /** The server's open-files limit and the most connections it leaves room for. */
  readonly serverNofile: number;
  readonly cap: number;
  readonly steps: readonly IdleStep[];
  /** RSS after holding the top step for `holdSeconds` (keep-alives flowing). */
  readonly afterHold: { readonly held: number; readonly rssKiB: number } | null;
  readonly holdSeconds: number;
  /** CPU during the hold: the keep-alive cost of the idle connections. */
  readonly holdCpu: CpuWindow | null;
  /** Least-squares slope of RSS over connections, KiB per connection, over the steps. */
  readonly kibPerConnection: number | null;
  /** (RSS at the top − baseline) / connections at the top. */
  readonly kibPerConnectionTop: number | null;
  readonly loadProcesses: number;
  readonly attempted: number;
  readonly failed: number;
  readonly dropped: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
}

/** Sockets a load process holds at most (under its own open-files limit). */
const PER_PROCESS = 8000;
/** Descriptors the server needs besides the client sockets (listening socket, files, pipes…). */
const FD_HEADROOM = 64;

class IdleLoad {
  private readonly pending: ((s: IdleStatus) => void)[] = [];
  private readonly ready: Promise<void>;
  last: IdleStatus | null = null;

  constructor(readonly child: ChildProcess) {
    this.ready = new Promise((resolve, reject) => {
      child.on('message', (m: { op: string }) => {
        if (m.op === 'ready') return resolve();
        this.last = m as IdleStatus;
        this.pending.shift()?.(this.last);
      });
      child.once('exit', (code) => {
        reject(new Error(`idle load process exited with ${code}`));
        for (const p of this.pending.splice(0)) p(this.last ?? emptyStatus(`exited with ${code}`));
      });
    });
  }

  async request(request: IdleRequest): Promise<IdleStatus> {
    await this.ready;
    return new Promise((resolve) => {
      this.pending.push(resolve);
      this.child.send(request);
    });
  }
}

function emptyStatus(error: string): IdleStatus {
  return {
    op: 'status',
    held: 0,
    attempted: 0,
    failed: 0,
    dropped: 0,
    errors: 1,
    errorSamples: [error],
    openMs: 0,
  };
}

/** Least-squares slope of y over x. */
export function slope(points: readonly { x: number; y: number }[]): number | null {
  if (points.length < 2) return null;
  const mx = points.reduce((a, p) => a + p.x, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? null : num / den;
}

export async function runIdleCell(options: {
  readonly code: CodeDir;
  readonly endpoint: Endpoint;
  readonly serverPid: number;
  readonly pids: Readonly<Record<string, number>>;
  readonly tokenFile: string | null;
  readonly steps: readonly number[];
  readonly settleSeconds: number;
  readonly holdSeconds: number;
  readonly loadCpu: number | null;
  readonly idPrefix: string;
  readonly log: (line: string) => void;
  /** Called at the top step after the hold, connections still open. */
  readonly atTop?: () => Promise<void>;
}): Promise<IdleCellResult> {
  const { serverPid, log } = options;
  await sleep(options.settleSeconds * 1000);
  const baselineRssKiB = rssKiB(serverPid) ?? 0;
  const baselineFds = openFds(serverPid) ?? 0;
  const serverNofile = nofileLimit(serverPid) ?? 1024;
  const cap = serverNofile - baselineFds - FD_HEADROOM;
  const steps = options.steps.map((s) => Math.min(s, cap)).filter((s, i, a) => a.indexOf(s) === i);
  const top = steps[steps.length - 1] ?? 0;
  if (top < options.steps[options.steps.length - 1]!) {
    log(
      `  the server may open ${serverNofile} files and already has ${baselineFds} open: ` +
        `the top step is ${top} connections`,
    );
  }
  const processes = Math.max(1, Math.ceil(top / PER_PROCESS));
  const loads: IdleLoad[] = [];
  const entry = path.join(options.code.root, 'dist', 'bench', 'signaling', 'idle-load.js');
  for (let p = 0; p < processes; p++) {
    const spec: IdleLoadSpec = {
      endpoint: options.endpoint,
      tokenFile: options.tokenFile,
      tokenOffset: p * PER_PROCESS,
      idPrefix: `${options.idPrefix}p${p}-`,
      // A source address per process: 20,000 connections would use most ephemeral ports of one.
      localAddress: `127.0.0.${10 + p}`,
      concurrency: 50,
    };
    const child = spawnPinned(
      [...options.code.node, entry, JSON.stringify(spec)],
      options.loadCpu,
      { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
    );
    loads.push(new IdleLoad(child));
  }
  const share = (target: number, p: number) =>
    Math.max(0, Math.min(PER_PROCESS, target - p * PER_PROCESS));
  const result: IdleStep[] = [];
  let statuses: IdleStatus[] = [];
  try {
    for (const target of steps) {
      const t0 = performance.now();
      statuses = await Promise.all(
        loads.map((l, p) => l.request({ op: 'open', target: share(target, p) })),
      );
      const openSeconds = (performance.now() - t0) / 1000;
      await sleep(options.settleSeconds * 1000);
      statuses = await Promise.all(loads.map((l) => l.request({ op: 'status' })));
      const held = statuses.reduce((n, s) => n + s.held, 0);
      const step: IdleStep = {
        target,
        held,
        rssKiB: rssKiB(serverPid) ?? 0,
        fds: openFds(serverPid) ?? 0,
        openSeconds,
      };
      result.push(step);
      const failed = statuses.reduce((n, s) => n + s.failed + s.dropped + s.errors, 0);
      log(
        `  ${held.toLocaleString('en-US')} idle connections (${openSeconds.toFixed(1)} s to open): ` +
          `server RSS ${(step.rssKiB / 1024).toFixed(1)} MiB, ${step.fds} fds` +
          (failed > 0 ? `, ${failed} failures` : ''),
      );
    }
    let afterHold: IdleCellResult['afterHold'] = null;
    let holdCpu: CpuWindow | null = null;
    if (options.holdSeconds > 0 && steps.length > 0) {
      const end = startCpuWindow(options.pids);
      await sleep(options.holdSeconds * 1000);
      holdCpu = end();
      statuses = await Promise.all(loads.map((l) => l.request({ op: 'status' })));
      afterHold = {
        held: statuses.reduce((n, s) => n + s.held, 0),
        rssKiB: rssKiB(serverPid) ?? 0,
      };
    }
    await options.atTop?.();
    const points = result.map((s) => ({ x: s.held, y: s.rssKiB }));
    const last = result[result.length - 1];
    return {
      baselineRssKiB,
      baselineFds,
      serverNofile,
      cap,
      steps: result,
      afterHold,
      holdSeconds: options.holdSeconds,
      holdCpu,
      kibPerConnection: slope(points),
      kibPerConnectionTop:
        last && last.held > 0 ? (last.rssKiB - baselineRssKiB) / last.held : null,
      loadProcesses: processes,
      attempted: statuses.reduce((n, s) => n + s.attempted, 0),
      failed: statuses.reduce((n, s) => n + s.failed, 0),
      dropped: statuses.reduce((n, s) => n + s.dropped, 0),
      errors: statuses.reduce((n, s) => n + s.errors, 0),
      errorSamples: statuses.flatMap((s) => s.errorSamples).slice(0, 10),
    };
  } finally {
    await Promise.all(
      loads.map((l) =>
        l.child.exitCode === null
          ? Promise.race([l.request({ op: 'close' }), sleep(10_000)])
          : Promise.resolve(),
      ),
    );
    for (const l of loads) if (l.child.exitCode === null) l.child.kill('SIGKILL');
  }
}
