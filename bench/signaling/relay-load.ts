// The relay cells, run in a load process of their own: throughput (every client keeps a window of
// messages in flight to its partner) and latency (an open-loop schedule at a fixed total rate).
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { readStamp } from './payloads.js';
import { cpuAffinity, startCpuWindow, type CpuWindow } from './proc-stats.js';
import {
  connectPair,
  sscontrolCounters,
  type Endpoint,
  type Identity,
  type RelayClient,
} from './wire.js';

/** Tokens minted for the run (sscontrol only), by role. */
export interface TokenFile {
  /** Pair i: a host token granting `s-<i>` and a controller token granting it. */
  readonly hosts: readonly string[];
  readonly controllers: readonly string[];
  /** Idle connections: one token each. */
  readonly idle: readonly string[];
}

/** What a relay cell does. */
export interface RelayCellSpec {
  readonly endpoint: Endpoint;
  readonly mode: 'throughput' | 'latency';
  /** `candidate`: both clients of a pair trickle candidates; `offer`: offer → answer → offer… */
  readonly message: 'candidate' | 'offer';
  readonly pairs: number;
  /** Throughput: messages each client keeps in flight to its partner. */
  readonly window: number;
  /** Latency: messages per second offered, all clients together. */
  readonly rate: number;
  readonly warmupMs: number;
  readonly measureMs: number;
  /** Processes whose CPU is accounted (name → pid); the load process is added. */
  readonly pids: Readonly<Record<string, number>>;
  readonly tokenFile: string | null;
  /** Prefix of the client ids, unique per cell (PeerJS and the bare relay key clients by id). */
  readonly idPrefix: string;
  readonly localAddress: string;
}

/** Latency percentiles (ms) of the messages scheduled inside the measured window. */
export interface LatencySummary {
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly mean: number;
}

export interface RelayCellResult {
  /** Messages delivered end to end inside the measured window. */
  readonly delivered: number;
  readonly windowMs: number;
  readonly perSecond: number;
  /** Latency cells: one-way latency from the scheduled send time to delivery. */
  readonly latency: LatencySummary | null;
  /** Latency cells: how late the load process sent against its schedule (ms). */
  readonly sendLag: LatencySummary | null;
  /** Messages sent but not delivered once the cell drained (must be 0). */
  readonly undelivered: number;
  readonly sent: number;
  /** sscontrol: acks and pongs received (acks must equal messages sent). */
  readonly acks: number;
  readonly pongs: number;
  readonly errors: number;
  readonly errorSamples: readonly string[];
  /** Bytes of one relayed frame, client → server and server → client. */
  readonly frameBytes: { readonly sent: number; readonly delivered: number };
  readonly setupMs: number;
  readonly cpu: CpuWindow | null;
  readonly affinity: string;
}

function summarize(values: Float64Array): LatencySummary | null {
  if (values.length === 0) return null;
  const s = values.slice().sort();
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  let sum = 0;
  for (const v of s) sum += v;
  return {
    samples: s.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    p999: at(0.999),
    max: s[s.length - 1]!,
    mean: sum / s.length,
  };
}

/** A growable list of doubles. */
class Samples {
  private data = new Float64Array(1 << 14);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const grown = new Float64Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = v;
  }
  view(): Float64Array {
    return this.data.subarray(0, this.length);
  }
}

function identities(spec: RelayCellSpec, i: number): [Identity, Identity] {
  if (spec.endpoint.kind !== 'sscontrol') {
    return [{ id: `${spec.idPrefix}h${i}` }, { id: `${spec.idPrefix}c${i}` }];
  }
  const tokens = JSON.parse(readFileSync(spec.tokenFile!, 'utf8')) as TokenFile;
  const host = tokens.hosts[i];
  const controller = tokens.controllers[i];
  if (!host || !controller) throw new Error(`no tokens for pair ${i}`);
  const sessionId = `s-${i}`;
  return [
    { id: `h${i}`, token: host, sessionId },
    { id: `c${i}`, token: controller, sessionId },
  ];
}

/** Opens the pairs, a few at a time. */
async function openPairs(spec: RelayCellSpec): Promise<[RelayClient, RelayClient][]> {
  const ids = Array.from({ length: spec.pairs }, (_, i) => identities(spec, i));
  const pairs: [RelayClient, RelayClient][] = [];
  const CONCURRENT = 16;
  for (let i = 0; i < ids.length; i += CONCURRENT) {
    const batch = ids.slice(i, i + CONCURRENT);
    pairs.push(
      ...(await Promise.all(
        batch.map(([a, b]) => connectPair(spec.endpoint, a, b, spec.localAddress)),
      )),
    );
  }
  return pairs;
}

/** Waits until `done()` or `ms` passed. */
async function until(done: () => boolean, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done() && performance.now() < deadline) await sleep(10);
}

export async function runRelayCell(spec: RelayCellSpec): Promise<RelayCellResult> {
  const t0 = performance.now();
  const pairs = await openPairs(spec);
  const setupMs = performance.now() - t0;
  const clients = pairs.flat();
  let stopping = false;
  for (const c of clients) {
    c.onClose = (code, reason) => {
      if (!stopping) {
        c.errors.count++;
        c.errors.samples.push(`closed during the cell: ${code} ${reason}`);
      }
    };
  }
  let counting = false;
  let delivered = 0;
  const latencies = new Samples();
  const lags = new Samples();
  // Nothing counts before the window opens (warm-up) or after it closes.
  let windowStart = Number.POSITIVE_INFINITY;
  let windowEnd = Number.POSITIVE_INFINITY;
  let sendAllowed = true;

  if (spec.mode === 'throughput') {
    for (const [a, b] of pairs) {
      if (spec.message === 'candidate') {
        // Each delivery frees a slot of the sender's window: the receiver's partner sends again.
        a.onDeliver = () => {
          if (counting) delivered++;
          if (sendAllowed) b.send('candidate', 0);
        };
        b.onDeliver = () => {
          if (counting) delivered++;
          if (sendAllowed) a.send('candidate', 0);
        };
      } else {
        // An offer is answered, the answer triggers the next offer (one exchange in flight).
        b.onDeliver = () => {
          if (counting) delivered++;
          if (sendAllowed) b.send('answer', 0);
        };
        a.onDeliver = () => {
          if (counting) delivered++;
          if (sendAllowed) a.send('offer', 0);
        };
      }
    }
    for (const [a, b] of pairs) {
      if (spec.message === 'candidate') {
        for (let k = 0; k < spec.window; k++) {
          a.send('candidate', 0);
          b.send('candidate', 0);
        }
      } else {
        for (let k = 0; k < spec.window; k++) a.send('offer', 0);
      }
    }
  } else {
    // Open loop: message k is due at start + k / rate, sent by client k mod n, stamped with its
    // due time; its latency is counted from that time (a late send is charged to the latency).
    const onDeliver = (frame: string) => {
      const stamp = readStamp(frame) / 1000;
      if (stamp >= windowStart && stamp < windowEnd) {
        delivered++;
        latencies.push(performance.now() - stamp);
      }
    };
    for (const c of clients) c.onDeliver = onDeliver;
  }

  let scheduler: Promise<void> = Promise.resolve();
  if (spec.mode === 'latency') {
    const interval = 1000 / spec.rate;
    const start = performance.now() + 5;
    let k = 0;
    scheduler = (async () => {
      while (sendAllowed) {
        const now = performance.now();
        for (let due = start + k * interval; due <= now; due = start + ++k * interval) {
          const sender = clients[k % clients.length]!;
          if (due >= windowStart && due < windowEnd) lags.push(now - due);
          sender.send('candidate', due * 1000);
        }
        await sleep(Math.max(0, start + k * interval - performance.now()));
      }
    })();
  }

  await sleep(spec.warmupMs);
  const pids = { ...spec.pids, load: process.pid };
  const endCpu = startCpuWindow(pids);
  const d0 = delivered;
  windowStart = performance.now();
  counting = true;
  await sleep(spec.measureMs);
  counting = false;
  windowEnd = performance.now();
  const cpu = endCpu();
  const windowMs = windowEnd - windowStart;
  const inWindow = spec.mode === 'throughput' ? delivered - d0 : delivered;
  sendAllowed = false;
  await scheduler;
  // Drain: whatever was sent must arrive (and on sscontrol be acked).
  const sent = () => clients.reduce((n, c) => n + c.sent, 0);
  const got = () => clients.reduce((n, c) => n + c.delivered, 0);
  const acks = () => clients.reduce((n, c) => n + sscontrolCounters(c).acks, 0);
  const isSscontrol = spec.endpoint.kind === 'sscontrol';
  await until(() => got() === sent() && (!isSscontrol || acks() === sent()), 5000);
  stopping = true;
  const undelivered = sent() - got();
  const errors = clients.reduce((n, c) => n + c.errors.count, 0);
  const errorSamples = clients.flatMap((c) => c.errors.samples).slice(0, 10);
  if (isSscontrol && acks() !== sent()) {
    errorSamples.push(`${sent() - acks()} relayed messages were never acked`);
  }
  // Latency: every message due inside the window, delivered by the end of the drain.
  const counted = spec.mode === 'throughput' ? inWindow : latencies.length;
  const result: RelayCellResult = {
    delivered: counted,
    windowMs,
    perSecond: (counted * 1000) / windowMs,
    latency: spec.mode === 'latency' ? summarize(latencies.view()) : null,
    sendLag: spec.mode === 'latency' ? summarize(lags.view()) : null,
    undelivered,
    sent: sent(),
    acks: acks(),
    pongs: clients.reduce((n, c) => n + sscontrolCounters(c).pongs, 0),
    errors: errors + (isSscontrol && acks() !== sent() ? 1 : 0),
    errorSamples,
    frameBytes: {
      sent: clients.find((c) => c.sentFrameBytes > 0)?.sentFrameBytes ?? 0,
      delivered: clients.find((c) => c.deliveredFrameBytes > 0)?.deliveredFrameBytes ?? 0,
    },
    setupMs,
    cpu,
    affinity: cpuAffinity(),
  };
  for (const c of clients) c.close();
  await until(() => clients.every((c) => c.closed), 3000);
  return result;
}
