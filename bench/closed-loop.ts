import { setTimeout as sleep } from 'node:timers/promises';
import { startCpuAccounting, type CpuShare } from './cpu-usage.js';

/** What one closed-loop measurement saw. */
export interface LoopResult {
  /** Appends acknowledged inside the measured window. */
  readonly acked: number;
  /** Length of the measured window (ms). */
  readonly windowMs: number;
  /** Acknowledged appends per second inside the window. */
  readonly perSecond: number;
  /** Latency of the appends acknowledged inside the window (ms). */
  readonly latencyMs: { readonly p50: number; readonly p99: number; readonly max: number };
  /** Every acknowledged append, warm-up and drain included (what the store must now hold). */
  readonly totalAcked: number;
  /** Where the machine's CPU went during the window (null without /proc). */
  readonly cpu: CpuShare | null;
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Runs `writers` closed-loop writers: each awaits its append, then issues the next, so at most
 * `writers` appends are ever in flight. The writers run through `warmupMs` (not counted) and then
 * through the measured window without a pause, so the window sees the steady state; afterwards
 * they stop issuing and the appends in flight finish (not counted either). Any failed append
 * aborts the run.
 */
export async function closedLoop(
  append: (seq: number) => Promise<unknown>,
  writers: number,
  warmupMs: number,
  measureMs: number,
): Promise<LoopResult> {
  let stop = false;
  let seq = 0;
  let acked = 0;
  let counting = false;
  let failure: unknown = null;
  let latencies = new Float64Array(1 << 16);
  let nLat = 0;
  const writer = async (): Promise<void> => {
    while (!stop) {
      const started = performance.now();
      try {
        await append(seq++);
      } catch (error) {
        failure ??= error;
        stop = true;
        return;
      }
      acked++;
      if (counting) {
        if (nLat === latencies.length) {
          const grown = new Float64Array(latencies.length * 2);
          grown.set(latencies);
          latencies = grown;
        }
        latencies[nLat++] = performance.now() - started;
      }
    }
  };
  const running = Array.from({ length: writers }, () => writer());
  if (warmupMs > 0) await sleep(warmupMs);
  // /proc is read outside the window: the event loop is blocked while it is.
  const endCpu = startCpuAccounting();
  const a0 = acked;
  const t0 = performance.now();
  counting = true;
  await sleep(measureMs);
  const a1 = acked;
  const t1 = performance.now();
  counting = false;
  const cpu = endCpu();
  stop = true;
  await Promise.all(running);
  if (failure !== null)
    throw failure instanceof Error ? failure : new Error('an append failed', { cause: failure });
  const sorted = latencies.subarray(0, nLat).sort();
  const windowMs = t1 - t0;
  return {
    acked: a1 - a0,
    windowMs,
    perSecond: ((a1 - a0) * 1000) / windowMs,
    latencyMs: {
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: nLat > 0 ? sorted[nLat - 1]! : 0,
    },
    totalAcked: acked,
    cpu,
  };
}
