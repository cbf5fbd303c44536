import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { packageRootDir } from './package-root.js';

/** A JSON log line of a sscontrol process. */
export type LogLine = Record<string, unknown> & { level?: string; msg?: string };

/** A running sscontrol process started from dist/ for an end-to-end test. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Parsed JSON lines written so far to stdout. */
  readonly logs: LogLine[];
  /** Non-JSON output (stderr, and anything else). */
  readonly text: string[];
  /** Resolves with the first log line matching, or rejects after `timeoutMs`. */
  waitForLog(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Sends a signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Resolves when the process exits, with its code. */
  readonly exited: Promise<number | string>;
}

/** The environment a test process gets: PATH and HOME only, plus what the test sets. */
function baseEnv(): Record<string, string> {
  // eslint-disable-next-line no-restricted-properties -- the child inherits the runner's PATH and HOME only
  const { PATH = '', HOME = '/tmp' } = process.env;
  return { PATH, HOME, NODE_ENV: 'test' };
}

/** Starts `dist/apps/<service>/src/main.js` with the given environment (no `.env` is read: cwd is a temp dir). */
export function startService(
  service: 'signaling' | 'control',
  env: Record<string, string>,
  cwd: string,
): ServiceProcess {
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', path.join(packageRootDir(), `dist/apps/${service}/src/main.js`)],
    {
      cwd,
      env: { ...baseEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const logs: LogLine[] = [];
  const text: string[] = [];
  const waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let buffer = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      if (!line.trim()) continue;
      try {
        const parsed = JSON.parse(line) as LogLine;
        logs.push(parsed);
        for (let i = waiters.length - 1; i >= 0; i--) {
          if (waiters[i]!.match(parsed)) {
            waiters[i]!.resolve(parsed);
            waiters.splice(i, 1);
          }
        }
      } catch {
        text.push(line);
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) =>
    text.push(...chunk.toString().split('\n').filter(Boolean)),
  );
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')),
  );
  return {
    child,
    logs,
    text,
    exited,
    waitForLog(match, timeoutMs = 20_000) {
      const found = logs.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching log line within ${timeoutMs} ms; got:\n${logs
                  .map((l) => JSON.stringify(l))
                  .slice(-20)
                  .join('\n')}\n${text.join('\n')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          match,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then(() => {
          clearTimeout(timer);
          reject(
            new Error(
              `process exited before a matching log line; output:\n${text.join('\n')}\n${logs.map((l) => JSON.stringify(l)).join('\n')}`,
            ),
          );
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs the `sscontrol` CLI (bin/sscontrol.js) to completion. */
export function runCli(
  args: readonly string[],
  env: Record<string, string>,
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [path.join(packageRootDir(), 'bin/sscontrol.js'), ...args],
      {
        cwd,
        env: { ...baseEnv(), ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
