// Starting and stopping the processes of a cell: the server under test (pinned to its CPU), the
// private Redis of the cluster row, and the OTLP sink that receives the gateway's traces.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { cpSync, mkdirSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerKind } from './wire.js';

/** The server rows of the report: the three servers, sscontrol also in cluster mode. */
export const SERVER_ROWS = ['bare', 'peerjs', 'sscontrol', 'sscontrol-redis'] as const;
export type ServerRow = (typeof SERVER_ROWS)[number];

export const rowKind = (row: ServerRow): ServerKind =>
  row === 'sscontrol-redis' ? 'sscontrol' : row;

/** A process started for a cell. */
export interface Started {
  readonly pid: number;
  readonly port: number;
  /** Its log (stdout and stderr), a file in the work directory. */
  readonly logFile: string;
  stop(): Promise<void>;
}

/** The code the run executes (a private copy of dist/, see snapshotCode). */
export interface CodeDir {
  readonly root: string;
  readonly node: readonly string[];
}

/** A free TCP port on loopback (closed again: a small race is accepted). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `command` with the soft open-files limit raised to the hard one (sockets are files) and,
 * when `cpu` is set, pinned to that CPU with taskset (the process and all its threads).
 */
export function spawnPinned(
  command: readonly string[],
  cpu: number | null,
  options: SpawnOptions,
): ChildProcess {
  const pinned = cpu === null ? command : ['taskset', '-c', String(cpu), ...command];
  return spawn(
    '/bin/sh',
    ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', 'sh', ...pinned],
    options,
  );
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null
      ? resolve()
      : child.once('exit', () => resolve()),
  );
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = exited(child);
  if ((await Promise.race([done.then(() => true), sleep(10_000).then(() => false)])) === false) {
    child.kill('SIGKILL');
    await done;
  }
}

/** Resolves once something accepts TCP connections on `port`; fails if `child` exits first. */
async function waitForPort(
  port: number,
  child: ChildProcess,
  logFile: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `process exited (${child.exitCode ?? child.signalCode}) before listening; log:\n${tail(logFile)}`,
      );
    }
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port} after ${timeoutMs} ms; log:\n${tail(logFile)}`);
}

/** The last lines of a log file. */
export function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Resolves with the port printed as `@@listening <port>` in the log file. */
async function waitForListening(
  child: ChildProcess,
  logFile: string,
  timeoutMs = 30_000,
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const m = /^@@listening (\d+)$/m.exec(tail(logFile, 1000));
    if (m) return Number(m[1]);
    if (child.exitCode !== null || child.signalCode !== null) break;
    await sleep(25);
  }
  throw new Error(`server did not listen; log:\n${tail(logFile)}`);
}

function logTo(file: string): { stdio: SpawnOptions['stdio']; close(): void } {
  mkdirSync(path.dirname(file), { recursive: true });
  const fd = openSync(file, 'a');
  return { stdio: ['ignore', fd, fd], close: () => closeSync(fd) };
}

/** Starts the bare relay or the PeerJS server (entries of dist/bench/signaling/). */
export async function startScriptServer(
  code: CodeDir,
  kind: 'bare' | 'peerjs',
  cpu: number | null,
  logFile: string,
): Promise<Started> {
  const script = path.join(
    code.root,
    'dist',
    'bench',
    'signaling',
    kind === 'bare' ? 'bare-relay.js' : 'peerjs-server.js',
  );
  const log = logTo(logFile);
  const child = spawnPinned([...code.node, script, '0'], cpu, {
    stdio: log.stdio,
    env: baseEnv(),
  });
  log.close();
  try {
    const port = await waitForListening(child, logFile);
    return { pid: child.pid!, port, logFile, stop: () => stopChild(child) };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

/** PATH and HOME only: no developer `.env`, no inherited settings. */
export function baseEnv(): Record<string, string> {
  // eslint-disable-next-line no-restricted-properties -- children get the runner's PATH and HOME only
  const { PATH = '', HOME = '/tmp' } = process.env;
  return { PATH, HOME };
}

/** Starts the sscontrol gateway (dist/apps/signaling/src/main.js) in a fresh data directory. */
export async function startGateway(
  code: CodeDir,
  options: {
    readonly env: Readonly<Record<string, string>>;
    /** A data directory prepared by `sscontrol init`: copied, so that every start is fresh. */
    readonly templateDir: string;
    readonly runDir: string;
    readonly cpu: number | null;
  },
): Promise<Started & { readonly dataDir: string }> {
  const dataDir = path.join(options.runDir, 'var');
  rmSync(options.runDir, { recursive: true, force: true });
  mkdirSync(options.runDir, { recursive: true });
  cpSync(options.templateDir, dataDir, { recursive: true });
  const port = await freePort();
  const logFile = path.join(options.runDir, 'signaling.log');
  const log = logTo(logFile);
  const child = spawnPinned(
    [...code.node, path.join(code.root, 'dist', 'apps', 'signaling', 'src', 'main.js')],
    options.cpu,
    {
      cwd: options.runDir,
      stdio: log.stdio,
      env: {
        ...baseEnv(),
        ...options.env,
        SSCONTROL_DATA_DIR: dataDir,
        SIGNALING_PORT: String(port),
      },
    },
  );
  log.close();
  try {
    await waitForPort(port, child, logFile);
    return { pid: child.pid!, port, logFile, dataDir, stop: () => stopChild(child) };
  } catch (error) {
    await stopChild(child);
    throw error;
  }
}

/** Starts a private `redis-server` (no persistence) pinned to `cpu`. */
export async function startRedis(
  binary: string,
  dir: string,
  cpu: number | null,
): Promise<Started & { readonly url: string }> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const logFile = path.join(dir, 'redis.log');
  const child = spawnPinned(
    [
      binary,
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--logfile',
      logFile,
    ],
    cpu,
    { stdio: 'ignore' },
  );
  await waitForPort(port, child, logFile);
  return {
    pid: child.pid!,
    port,
    logFile,
    url: `redis://127.0.0.1:${port}`,
    stop: () => stopChild(child),
  };
}

/** Starts the OTLP/HTTP sink (dist/bench/signaling/otlp-sink.js). */
export async function startOtlpSink(
  code: CodeDir,
  cpu: number | null,
  logFile: string,
): Promise<Started> {
  const log = logTo(logFile);
  const child = spawnPinned(
    [...code.node, path.join(code.root, 'dist', 'bench', 'signaling', 'otlp-sink.js')],
    cpu,
    { stdio: log.stdio, env: baseEnv() },
  );
  log.close();
  const port = await waitForListening(child, logFile);
  return { pid: child.pid!, port, logFile, stop: () => stopChild(child) };
}
