// A load process holding idle connections for the memory cell, driven by its parent over the IPC
// channel: `open` (grow to a number of connections), `status`, `close`. Each connection is what
// an idle client of its server is: authenticated (sscontrol: welcome received; PeerJS: OPEN
// received) and sending the keep-alive its protocol asks for (sscontrol `ping` twice per
// heartbeatMs; PeerJS `HEARTBEAT` every 5 s; the bare relay nothing).
import { readFileSync } from 'node:fs';
import type { TokenFile } from './relay-load.js';
import { connectClient, type Endpoint, type RelayClient } from './wire.js';

/** The process's part of the connections (argv[2], JSON). */
export interface IdleLoadSpec {
  readonly endpoint: Endpoint;
  readonly tokenFile: string | null;
  /** This process's connection i uses idle token `tokenOffset + i`. */
  readonly tokenOffset: number;
  readonly idPrefix: string;
  readonly localAddress: string;
  /** Connection attempts in flight at once. */
  readonly concurrency: number;
}

export type IdleRequest =
  | { readonly op: 'open'; readonly target: number }
  | { readonly op: 'status' }
  | { readonly op: 'close' };

/** The process's state, sent in answer to every request. */
export interface IdleStatus {
  readonly op: 'status';
  readonly held: number;
  readonly attempted: number;
  /** Attempts that did not end authenticated (refused, timed out, closed early). */
  readonly failed: number;
  /** Authenticated connections that closed while they should have stayed open. */
  readonly dropped: number;
  /** Protocol errors received on held connections. */
  readonly errors: number;
  readonly errorSamples: readonly string[];
  /** Time the last `open` took (ms). */
  readonly openMs: number;
}

const spec = JSON.parse(process.argv[2] ?? '') as IdleLoadSpec;
const tokens =
  spec.tokenFile === null
    ? null
    : (JSON.parse(readFileSync(spec.tokenFile, 'utf8')) as TokenFile).idle;
const held: RelayClient[] = [];
let attempted = 0;
let failed = 0;
let dropped = 0;
let openMs = 0;
let closing = false;
const samples: string[] = [];

function note(text: string): void {
  if (samples.length < 10) samples.push(text.slice(0, 300));
}

async function openOne(i: number): Promise<void> {
  const token = tokens?.[spec.tokenOffset + i];
  if (tokens && !token) throw new Error(`no idle token ${spec.tokenOffset + i}`);
  const client = connectClient(
    spec.endpoint,
    { id: `${spec.idPrefix}${i}`, ...(token ? { token } : {}) },
    spec.localAddress,
  );
  try {
    await client.opened();
  } catch (error) {
    failed++;
    note(`connection ${i}: ${(error as Error).message}`);
    client.close();
    return;
  }
  client.onClose = (code, reason) => {
    if (!closing) {
      dropped++;
      note(`connection ${i} closed: ${code} ${reason}`);
    }
  };
  client.startKeepAlive();
  held.push(client);
}

async function grow(target: number): Promise<void> {
  const t0 = performance.now();
  let next = attempted;
  const worker = async () => {
    while (next < target) await openOne(next++);
  };
  attempted = Math.max(attempted, target);
  await Promise.all(Array.from({ length: spec.concurrency }, worker));
  openMs = performance.now() - t0;
}

function status(): IdleStatus {
  return {
    op: 'status',
    held: held.filter((c) => !c.closed).length,
    attempted,
    failed,
    dropped,
    errors: held.reduce((n, c) => n + c.errors.count, 0),
    errorSamples: [...samples, ...held.flatMap((c) => c.errors.samples)].slice(0, 10),
    openMs,
  };
}

process.on('message', (request: IdleRequest) => {
  void (async () => {
    switch (request.op) {
      case 'open':
        await grow(request.target);
        break;
      case 'status':
        break;
      case 'close': {
        closing = true;
        for (const c of held) c.close();
        const deadline = performance.now() + 5000;
        while (held.some((c) => !c.closed) && performance.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        process.send!(status(), () => process.exit(0));
        return;
      }
    }
    process.send!(status());
  })();
});
process.send!({ op: 'ready' });
