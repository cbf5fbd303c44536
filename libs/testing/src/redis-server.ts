import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadTestEnvironment } from '@sscontrol/config';
import { freePort } from './free-port.js';
import { tempDir } from './temp-dir.js';

/** A `redis-server` of a test's own, on a free port in a temp dir. */
export interface TestRedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Graceful shutdown (SHUTDOWN semantics via SIGTERM). */
  stop(): Promise<void>;
  /** Abrupt death (SIGKILL), to test faults. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  remove(): Promise<void>;
}

/** Options of {@link startRedisServer}. */
export interface TestRedisOptions {
  /** Extra `redis-server` arguments, e.g. `['--appendonly', 'yes']`. Default: no persistence. */
  readonly args?: readonly string[];
  readonly password?: string;
  /** Port to listen on. Default: a free one. */
  readonly port?: number;
}

async function waitForPort(port: number, child: ChildProcess): Promise<void> {
  const net = await import('node:net');
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(25);
  }
  throw new Error(`redis-server did not listen on ${port}`);
}

/** Starts a private `redis-server` (REDIS_SERVER_BIN, default `redis-server` from PATH). */
export async function startRedisServer(options: TestRedisOptions = {}): Promise<TestRedisServer> {
  const { redisServerBin } = loadTestEnvironment();
  const dir = tempDir('sscontrol-redis-');
  const port = options.port ?? (await freePort());
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir.path,
    '--save',
    '',
    '--appendonly',
    'no',
    '--logfile',
    path.join(dir.path, 'redis.log'),
    ...(options.password ? ['--requirepass', options.password] : []),
    ...(options.args ?? []),
  ];
  let child: ChildProcess;
  const start = async () => {
    child = spawn(redisServerBin, args, { stdio: 'ignore' });
    await waitForPort(port, child);
  };
  const exited = () =>
    new Promise<void>((resolve) =>
      child.exitCode !== null || child.signalCode !== null
        ? resolve()
        : child.once('exit', () => resolve()),
    );
  await start();
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    dir: dir.path,
    async stop() {
      child.kill('SIGTERM');
      await exited();
    },
    async kill() {
      child.kill('SIGKILL');
      await exited();
    },
    restart: start,
    async remove() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await exited();
      }
      if (existsSync(dir.path)) dir.remove();
    },
  };
}
