// Each benchmark cell runs in a fresh Node process (own heap, own pools, no state left by other
// cells): the parent spawns `<entry> --child <spec JSON>` and reads one result line back.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const CHILD_FLAG = '--child';
const RESULT_MARK = '@@bench-result ';

/** Where a bench writes its progress (stderr: stdout carries the child's result line). */
export const log = (line: string) => process.stderr.write(`${line}\n`);

/**
 * Runs one cell of `entry` in a child process, pinned to one CPU (`taskset`) when `cpu` is set;
 * the child's other output is passed through to the log. Rejects on a non-zero exit or timeout.
 */
export function spawnCell<Spec, Result>(
  entry: string,
  spec: Spec,
  options: { timeoutMs: number; cpu?: number | null },
): Promise<Result> {
  const node = [process.execPath, ...process.execArgv, entry, CHILD_FLAG, JSON.stringify(spec)];
  const cpu = options.cpu ?? null;
  const [command, ...args] = cpu === null ? node : ['taskset', '-c', String(cpu), ...node];
  return new Promise((resolve, reject) => {
    const child = spawn(command!, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let result: Result | null = null;
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith(RESULT_MARK))
        result = JSON.parse(line.slice(RESULT_MARK.length)) as Result;
      else log(line);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (result !== null && code === 0) resolve(result);
      else
        reject(
          new Error(
            `cell exited with ${signal ?? code}${signal === 'SIGKILL' ? ' (timed out)' : ''}`,
          ),
        );
    });
  });
}

/**
 * The entry point of a bench file: as a child (`--child <spec>`) it runs one cell and prints its
 * result line; otherwise it runs `main` and sets the exit status from it.
 */
export async function runBench<Spec, Result>(
  main: () => Promise<number>,
  runChild: (spec: Spec) => Promise<Result>,
): Promise<void> {
  const childAt = process.argv.indexOf(CHILD_FLAG);
  if (childAt >= 0) {
    const spec = JSON.parse(process.argv[childAt + 1] ?? '') as Spec;
    try {
      const result = await runChild(spec);
      process.stdout.write(`${RESULT_MARK}${JSON.stringify(result)}\n`, () => process.exit(0));
    } catch (error) {
      log(`cell failed: ${(error as Error).stack ?? String(error)}`);
      process.exit(1);
    }
    return;
  }
  try {
    process.exitCode = await main();
  } catch (error) {
    log((error as Error).stack ?? String(error));
    process.exitCode = 1;
  }
}

/** A comma-separated `--only` list, each name checked against `known`. */
export function parseOnly<T extends string>(
  value: string | undefined,
  known: readonly T[],
  usage: string,
): T[] | undefined {
  const names = value
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const name of names ?? []) {
    if (!(known as readonly string[]).includes(name)) {
      throw new Error(`--only: unknown ${name}\n${usage}`);
    }
  }
  return names as T[] | undefined;
}
