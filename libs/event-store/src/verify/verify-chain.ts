import { Worker } from 'node:worker_threads';
import { genesisHash } from '../chain.js';
import { ChainBreakClass, ChainVerifier, type ChainBreak } from '../chain-verifier.js';
import type { EventStore } from '../event-store.js';
import { workerScript } from '../internal/worker-script.js';
import type { EventStoreSettings } from '../open-event-store.js';
import { openChainReader } from './chain-reader.js';

/** Options of {@link verifyChain}. */
export interface VerifyChainOptions {
  /** Verify events after this position. Default 0 (from the first event). */
  readonly after?: number;
  /** Last position to verify. Default: the head. */
  readonly to?: number;
  /** Settings to reopen the store in worker threads; without them the chain is read through the store. */
  readonly settings?: EventStoreSettings;
  /** Worker threads for sqlite/postgres. Default: 2 when the range exceeds 200,000 events, else 1. */
  readonly workers?: number;
  /** Positions whose payload redaction is authorised. */
  readonly redactedPositions?: ReadonlySet<number>;
  /** Called as verification advances (events checked so far, events to check). */
  readonly onProgress?: (checked: number, total: number) => void;
}

/** Result of {@link verifyChain}. */
export interface ChainReport {
  readonly from: number;
  readonly to: number;
  readonly checked: number;
  readonly break: ChainBreak | null;
  readonly redacted: readonly number[];
}

interface Segment {
  readonly after: number;
  readonly to: number;
  readonly prevHash: string;
}

/** What a verification worker reports. */
export type SegmentMessage =
  | { readonly kind: 'progress'; readonly checked: number }
  | {
      readonly kind: 'done';
      readonly checked: number;
      readonly break: ChainBreak | null;
      readonly redacted: number[];
    }
  | { readonly kind: 'failed'; readonly message: string };

/** Verifies one segment by reading it from `settings` (run in a worker, or inline). */
export async function verifySegment(
  settings: EventStoreSettings,
  segment: Segment,
  redacted: readonly number[],
  progress: (checked: number) => void,
): Promise<{ checked: number; break: ChainBreak | null; redacted: number[] }> {
  const reader = await openChainReader(settings);
  if (!reader) throw new Error(`no chain reader for ${settings.backend}`);
  try {
    const verifier = new ChainVerifier({
      prevHash: segment.prevHash,
      firstPosition: segment.after + 1,
      redactedPositions: new Set(redacted),
    });
    let checked = 0;
    for await (const page of reader.pages(segment.after, segment.to, 5000)) {
      checked += page.length;
      if (verifier.push(page)) break;
      progress(checked);
    }
    const result = verifier.finish();
    return { checked, break: result.break, redacted: [...result.summary.redacted] };
  } finally {
    await reader.close();
  }
}

function runWorker(
  settings: EventStoreSettings,
  segment: Segment,
  redacted: readonly number[],
  progress: (checked: number) => void,
): Promise<{ checked: number; break: ChainBreak | null; redacted: number[] }> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerScript(import.meta.url, 'verify-chain.worker'), {
      workerData: { settings, segment, redacted },
    });
    worker.on('message', (m: SegmentMessage) => {
      if (m.kind === 'progress') progress(m.checked);
      else if (m.kind === 'done')
        resolve({ checked: m.checked, break: m.break, redacted: m.redacted });
      else reject(new Error(m.message));
    });
    worker.on('error', reject);
    worker.on('exit', (code) => {
      if (code !== 0) reject(new Error(`verification worker exited with ${code}`));
    });
  });
}

/**
 * Verifies the hash chain of a store over a range of positions and returns the first break.
 * On sqlite and postgres the range is split across worker threads, each reading its own
 * segment on its own connection and starting from the stored hash before it; the segment
 * boundaries are themselves covered, since each segment checks the link of its first event.
 */
export async function verifyChain(
  store: EventStore,
  options: VerifyChainOptions = {},
): Promise<ChainReport> {
  const head = await store.head();
  const after = options.after ?? 0;
  const to = Math.min(options.to ?? head.position, head.position);
  const total = Math.max(0, to - after);
  const redacted = [...(options.redactedPositions ?? [])];
  const progress = options.onProgress ?? (() => undefined);
  const genesis = genesisHash(store.info.storeId);
  const prevAt = async (position: number) =>
    position === 0 ? genesis : ((await store.hashesAt([position])).get(position) ?? null);

  const first = await prevAt(after);
  if (first === null) {
    return {
      from: after + 1,
      to,
      checked: 0,
      break: {
        class: ChainBreakClass.Deleted,
        position: after,
        streamId: null,
        detail: `no event at position ${after} to start from`,
      },
      redacted: [],
    };
  }
  const settings = options.settings;
  const workers =
    settings && settings.backend !== 'kurrentdb'
      ? (options.workers ?? (total > 200_000 ? 2 : 1))
      : 1;

  if (!settings || settings.backend === 'kurrentdb' || workers <= 1) {
    const verifier = new ChainVerifier({
      prevHash: first,
      firstPosition: after + 1,
      redactedPositions: new Set(redacted),
      gaplessPositions: store.info.gaplessPositions,
    });
    let checked = 0;
    for await (const page of store.readChain({ after, to })) {
      checked += page.length;
      if (verifier.push(page)) break;
      progress(checked, total);
    }
    const result = verifier.finish();
    return {
      from: after + 1,
      to,
      checked,
      break: result.break,
      redacted: [...result.summary.redacted],
    };
  }

  const step = Math.ceil(total / workers);
  const segments: Segment[] = [];
  for (let a = after; a < to; a += step) {
    const end = Math.min(a + step, to);
    const prev = a === after ? first : await prevAt(a);
    const last = segments[segments.length - 1];
    if (prev === null && last) {
      // The boundary event is missing: the previous segment reads on and reports it.
      segments[segments.length - 1] = { ...last, to: end };
    } else {
      segments.push({ after: a, to: end, prevHash: prev ?? first });
    }
  }
  const counts = segments.map(() => 0);
  const results = await Promise.all(
    segments.map((segment, i) =>
      runWorker(settings, segment, redacted, (checked) => {
        counts[i] = checked;
        progress(
          counts.reduce((x, y) => x + y, 0),
          total,
        );
      }),
    ),
  );
  const breaks = results.map((r) => r.break).filter((b): b is ChainBreak => b !== null);
  breaks.sort((a, b) => a.position - b.position);
  return {
    from: after + 1,
    to,
    checked: results.reduce((n, r) => n + r.checked, 0),
    break: breaks[0] ?? null,
    redacted: results.flatMap((r) => r.redacted),
  };
}
