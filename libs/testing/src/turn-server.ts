import { spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './free-port.js';
import { tempDir } from './temp-dir.js';
import { stunBinding } from './turn-client.js';

/** Where Debian's `coturn` package puts the server. */
export const TURNSERVER_BIN = '/usr/bin/turnserver';

/** Options of {@link startTurnServer}. */
export interface TestTurnOptions {
  /** Port of the Redis that holds coturn's user database (`redis-userdb`) on 127.0.0.1. */
  readonly redisPort: number;
  /** Redis password; no whitespace (coturn splits its connection string on spaces). Default: none. */
  readonly redisPassword?: string;
  /**
   * Redis database number. Default 0. coturn 4.6.3 sends SELECT only after a successful AUTH
   * (coturn#1668, fixed in 4.7.0); Debian's 4.6.1 and 4.7.0+ select it with or without a password.
   */
  readonly redisDb?: number;
  /** coturn `realm`; its secrets are the Redis set `turn/realm/<realm>/secret`. */
  readonly realm: string;
  /** `static-auth-secret` values, accepted besides those in Redis. Default: none. */
  readonly staticSecrets?: readonly string[];
  /** The `turnserver` binary. Default {@link TURNSERVER_BIN}. */
  readonly bin?: string;
}

/** A `turnserver` of a test's own (REST API auth against Redis), on a free port in a temp dir. */
export interface TestTurnServer {
  readonly host: '127.0.0.1';
  /** UDP and TCP listening port. */
  readonly port: number;
  readonly dir: string;
  readonly logFile: string;
  /** The arguments it was started with (they contain the Redis password and static secrets). */
  readonly args: readonly string[];
  /** The log so far ('' when there is none yet). */
  log(): string;
  /** Stops it (SIGTERM, SIGKILL after 5 s) and removes its directory. */
  stop(): Promise<void>;
}

/** A port that is free for both TCP and UDP on 127.0.0.1 (turnserver listens on both). */
async function freeTcpAndUdpPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freePort();
    const socket = dgram.createSocket('udp4');
    const free = await new Promise<boolean>((resolve) => {
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => resolve(true));
    });
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    if (free) return port;
  }
  throw new Error('no port free for both TCP and UDP on 127.0.0.1');
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Starts Debian's `turnserver` (coturn) with TURN REST API authentication (`use-auth-secret`)
 * reading its secrets from Redis, listening on 127.0.0.1 only, with loopback peers allowed (tests
 * only), no TLS/DTLS, no CLI, a 20-port relay range, and its log and pid file in a temp dir.
 * Resolves once it answers a STUN Binding request.
 *
 * @throws Error naming `apt-get install -y coturn` when the binary is missing.
 */
export async function startTurnServer(options: TestTurnOptions): Promise<TestTurnServer> {
  const bin = options.bin ?? TURNSERVER_BIN;
  if (!existsSync(bin)) {
    throw new Error(
      `${bin} not found: the TURN integration tests need coturn (Debian: apt-get install -y coturn)`,
    );
  }
  if (options.redisPassword !== undefined && /\s/.test(options.redisPassword)) {
    throw new RangeError('coturn cannot take a Redis password with whitespace');
  }
  const redisDb = options.redisDb ?? 0;
  const dir = tempDir('sscontrol-turn-');
  const logFile = path.join(dir.path, 'turn.log');
  const port = await freeTcpAndUdpPort();
  // Relay ports are only bound on Allocate; a random window makes a clash with a parallel test
  // unlikely, and a clash fails one allocation rather than the start-up.
  const minPort = randomInt(40_000, 59_980);
  const userdb = [
    'ip=127.0.0.1',
    `port=${options.redisPort}`,
    `dbname=${redisDb}`,
    ...(options.redisPassword ? [`password=${options.redisPassword}`] : []),
    'connect_timeout=30',
  ].join(' ');
  const args = [
    // Read no configuration file: Debian's /etc/turnserver.conf must not leak into a test.
    '-n',
    `--listening-port=${port}`,
    '--listening-ip=127.0.0.1',
    '--relay-ip=127.0.0.1',
    `--min-port=${minPort}`,
    `--max-port=${minPort + 19}`,
    '--use-auth-secret',
    `--realm=${options.realm}`,
    // Also the only user database: `--db`/`--userdb` (SQLite) sets the same field and the last one
    // given wins, so it is not passed; without it nothing under /var/lib/turn is opened.
    `--redis-userdb=${userdb}`,
    ...(options.staticSecrets ?? []).map((s) => `--static-auth-secret=${s}`),
    '--allow-loopback-peers',
    '--no-tls',
    '--no-dtls',
    '--no-cli',
    '--no-rfc5780',
    `--log-file=${logFile}`,
    '--simple-log',
    '--no-stdout-log',
    `--pidfile=${path.join(dir.path, 'turnserver.pid')}`,
  ];
  const child = spawn(bin, args, { cwd: dir.path, stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const log = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');

  const stop = async () => {
    if (!exited(child)) {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(killer);
    }
    dir.remove();
  };

  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited(child)) {
      const output = `${log()}${stderr.join('')}`.split('\n').slice(-30).join('\n');
      dir.remove();
      throw new Error(`turnserver exited with ${child.exitCode ?? child.signalCode}:\n${output}`);
    }
    const probe = await Promise.race([
      stunBinding({ host: '127.0.0.1', port, timeoutMs: 250 }).then(
        () => true,
        () => false,
      ),
      spawnError,
    ]);
    if (probe instanceof Error) {
      dir.remove();
      throw probe;
    }
    if (probe) break;
    if (Date.now() > deadline) {
      const output = log().split('\n').slice(-30).join('\n');
      await stop();
      throw new Error(
        `turnserver did not answer STUN on 127.0.0.1:${port} within 15 s:\n${output}`,
      );
    }
    await sleep(50);
  }
  return { host: '127.0.0.1', port, dir: dir.path, logFile, args, log, stop };
}
