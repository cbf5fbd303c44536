import { performance } from 'node:perf_hooks';
import {
  verifyChain,
  type ChainBreak,
  type EventStore,
  type EventStoreSettings,
} from '@sscontrol/event-store';
import { AnchorLog } from './anchor-log.js';
import { decodeAuditEvent } from './audit-record.js';
import type { Checkpoint } from './catalogue/audit-trail.events.js';
import {
  checkpointSigningPayload,
  endorsementPayload,
  publicKeyFingerprint,
  verifyBytes,
} from './checkpoint-signature.js';
import type { CheckpointPublicKey } from './checkpoint-keys.js';
import type { AuditPayload } from './catalogue/catalogue.js';

/** Every way `audit verify` can find a trail wanting. */
export enum TamperClass {
  Modified = 'modified',
  Deleted = 'deleted',
  Inserted = 'inserted',
  Reordered = 'reordered',
  /** The store ends before what a checkpoint outside it sealed: its tail was cut, or an old copy restored. */
  Truncated = 'truncated',
  /** A checkpoint's signature does not verify. */
  BadSignature = 'bad_signature',
  /** A checkpoint is signed by a key that no trusted key endorsed. */
  UnknownKey = 'unknown_key',
}

/** The first failure `audit verify` found. */
export interface VerifyFailure {
  readonly class: TamperClass;
  /** Global position where the trail first stops being what was committed. */
  readonly position: number;
  readonly streamId: string | null;
  readonly detail: string;
  /** The checkpoint involved, if any. */
  readonly checkpointSeq?: number;
}

/** Options of {@link verifyAuditTrail}. */
export interface VerifyAuditTrailOptions {
  readonly store: EventStore;
  /** Lets verification read sqlite/postgres from worker threads. */
  readonly settings?: EventStoreSettings;
  /** External anchor directory (its key file also supplies trusted keys). */
  readonly anchorDir?: string;
  /** Public keys trusted out of band (e.g. `--trusted-key`). */
  readonly trustedKeys?: readonly string[];
  /** Verify events after this position. */
  readonly from?: number;
  /** Up to this position. */
  readonly to?: number;
  readonly workers?: number;
  readonly onProgress?: (checked: number, total: number) => void;
}

/** What `audit verify` reports. */
export interface VerifyReport {
  readonly ok: boolean;
  readonly storeId: string;
  readonly backend: string;
  readonly from: number;
  readonly to: number;
  readonly headPosition: number;
  readonly checkedEvents: number;
  readonly checkpoints: number;
  readonly lastSealedPosition: number;
  /** Events after the last checkpoint: covered by the chain only, not yet by a signature. */
  readonly unsealedEvents: number;
  readonly trustedKeyIds: readonly string[];
  readonly warnings: readonly string[];
  readonly failure: VerifyFailure | null;
  readonly durationMs: number;
}

function failure(
  cls: TamperClass,
  position: number,
  detail: string,
  extra: { streamId?: string | null; checkpointSeq?: number } = {},
): VerifyFailure {
  return {
    class: cls,
    position,
    streamId: extra.streamId ?? null,
    detail,
    ...(extra.checkpointSeq !== undefined ? { checkpointSeq: extra.checkpointSeq } : {}),
  };
}

/**
 * Verifies a trail end to end, as CloudTrail's validate-logs does for digests: the hash chain
 * over every event, every signed checkpoint (signature, trusted key, link to its predecessor,
 * the hashes it sealed), and the copies of checkpoints kept outside the store. Reports the first
 * failure by position.
 */
export async function verifyAuditTrail(options: VerifyAuditTrailOptions): Promise<VerifyReport> {
  const started = performance.now();
  const { store } = options;
  const storeId = store.info.storeId;
  const head = await store.head();
  const warnings: string[] = [];
  const failures: VerifyFailure[] = [];

  // 1. Keys: trusted out of band, from the anchor file, then endorsed in turn.
  const trusted = new Map<string, string>();
  const trust = (pem: string) => trusted.set(`ck-${publicKeyFingerprint(pem).slice(0, 16)}`, pem);
  for (const pem of options.trustedKeys ?? []) trust(pem);
  const anchors = options.anchorDir ? new AnchorLog(options.anchorDir, storeId) : null;
  if (anchors) {
    const keys = anchors.keys();
    if (keys.badLines.length > 0)
      warnings.push(`anchor key file has unreadable lines ${keys.badLines.join(', ')}`);
    for (const k of keys.entries) if (k.endorsedBy === null) trust(k.publicKey);
  }
  const endorse = (k: CheckpointPublicKey) => {
    if (trusted.has(k.keyId)) return;
    const endorser = k.endorsedBy ? trusted.get(k.endorsedBy) : undefined;
    if (
      endorser &&
      k.endorsement &&
      verifyBytes(endorser, endorsementPayload(storeId, k.keyId, k.publicKey), k.endorsement)
    ) {
      trusted.set(k.keyId, k.publicKey);
    }
  };
  for (const k of anchors?.keys().entries ?? []) endorse(k);
  for await (const e of store.readStream('audit-keys'))
    endorse(decodeAuditEvent(e).data as CheckpointPublicKey);

  // 2. Checkpoints in the store, in sequence.
  const stored: { cp: Checkpoint; position: number }[] = [];
  for await (const e of store.readStream('audit-checkpoints'))
    stored.push({ cp: decodeAuditEvent(e).data as Checkpoint, position: e.position });
  let prev: Checkpoint | null = null;
  for (const { cp } of stored) {
    const at = cp.fromPosition;
    if (cp.storeId !== storeId)
      failures.push(
        failure(TamperClass.Inserted, at, `checkpoint ${cp.seq} belongs to store ${cp.storeId}`, {
          checkpointSeq: cp.seq,
        }),
      );
    const pem = trusted.get(cp.keyId);
    if (!pem) {
      failures.push(
        failure(
          TamperClass.UnknownKey,
          at,
          `checkpoint ${cp.seq} is signed by ${cp.keyId}, which no trusted key endorsed`,
          { checkpointSeq: cp.seq },
        ),
      );
    } else if (!verifyBytes(pem, checkpointSigningPayload(cp), cp.signature)) {
      failures.push(
        failure(
          TamperClass.BadSignature,
          at,
          `checkpoint ${cp.seq}'s signature does not verify with ${cp.keyId}`,
          { checkpointSeq: cp.seq },
        ),
      );
    }
    if (prev) {
      if (cp.seq !== prev.seq + 1) {
        failures.push(
          failure(
            TamperClass.Deleted,
            prev.toPosition + 1,
            `checkpoints ${prev.seq + 1}..${cp.seq - 1} are missing`,
            { checkpointSeq: cp.seq },
          ),
        );
      } else if (cp.prevSignature !== prev.signature) {
        failures.push(
          failure(
            TamperClass.Modified,
            at,
            `checkpoint ${cp.seq} does not follow checkpoint ${prev.seq}`,
            { checkpointSeq: cp.seq },
          ),
        );
      } else if (cp.fromPosition !== prev.toPosition + 1) {
        failures.push(
          failure(
            TamperClass.Modified,
            at,
            `checkpoint ${cp.seq} starts at ${cp.fromPosition}, not after ${prev.toPosition}`,
            { checkpointSeq: cp.seq },
          ),
        );
      }
    } else if (cp.seq !== 1 || cp.prevSignature !== null) {
      failures.push(
        failure(TamperClass.Deleted, 1, `the first checkpoint in the store is number ${cp.seq}`, {
          checkpointSeq: cp.seq,
        }),
      );
    }
    prev = cp;
  }
  const lastStored = stored[stored.length - 1]?.cp ?? null;

  // 3. Checkpoints kept outside the store.
  if (anchors) {
    const outside = anchors.checkpoints();
    if (outside.badLines.length > 0)
      warnings.push(`anchor checkpoint file has unreadable lines ${outside.badLines.join(', ')}`);
    const bySeq = new Map(stored.map(({ cp }) => [cp.seq, cp]));
    for (const cp of outside.entries) {
      const inStore = bySeq.get(cp.seq);
      if (cp.toPosition > head.position) {
        failures.push(
          failure(
            TamperClass.Truncated,
            head.position + 1,
            `the store ends at position ${head.position} but checkpoint ${cp.seq}, kept outside it, sealed up to ${cp.toPosition}`,
            {
              checkpointSeq: cp.seq,
            },
          ),
        );
        break;
      }
      if (!inStore) {
        failures.push(
          failure(
            TamperClass.Deleted,
            cp.fromPosition,
            `checkpoint ${cp.seq} is in the anchor file but not in the store`,
            { checkpointSeq: cp.seq },
          ),
        );
      } else if (inStore.signature !== cp.signature) {
        failures.push(
          failure(
            TamperClass.Modified,
            cp.fromPosition,
            `checkpoint ${cp.seq} differs from its copy outside the store`,
            { checkpointSeq: cp.seq },
          ),
        );
      }
    }
    const anchoredSeqs = new Set(outside.entries.map((c) => c.seq));
    const missing = stored.filter(({ cp }) => !anchoredSeqs.has(cp.seq)).map(({ cp }) => cp.seq);
    if (missing.length > 0)
      warnings.push(
        `checkpoints ${missing.join(', ')} are not in the anchor file yet (a sealer writes them on its next start)`,
      );
  } else {
    warnings.push(
      'no anchor directory: truncation of the store or a restored old copy cannot be detected',
    );
  }

  // 4. The chain itself.
  const from = options.from ?? 0;
  const to = Math.min(options.to ?? head.position, head.position);
  const chain = await verifyChain(store, {
    after: from,
    to,
    ...(options.settings ? { settings: options.settings } : {}),
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });

  // 5. The hashes each checkpoint sealed must still be there. A break found in the chain
  // explains every mismatch at or after it, and locates it better than a checkpoint can.
  const inRange = stored.filter(({ cp }) => cp.toPosition > from && cp.fromPosition <= to);
  const positions = inRange.flatMap(({ cp }) => [cp.toPosition, ...cp.anchors.map(([p]) => p)]);
  const hashes = await store.hashesAt(positions);
  for (const { cp } of inRange) {
    if (chain.break && cp.toPosition >= chain.break.position) break;
    const marks: [number, string][] = [...cp.anchors, [cp.toPosition, cp.headHash]];
    let blockStart = cp.fromPosition;
    for (const [p, h] of marks) {
      if (hashes.get(p) !== h) {
        failures.push(
          failure(
            TamperClass.Modified,
            blockStart,
            `positions ${blockStart}..${p} no longer hash to what checkpoint ${cp.seq} sealed`,
            { checkpointSeq: cp.seq },
          ),
        );
        break;
      }
      blockStart = p + 1;
    }
  }
  if (chain.break)
    failures.push(
      refine(
        chain.break,
        stored.map((s) => s.cp),
        hashes,
      ),
    );
  if (!chain.break && chain.checked < to - from && store.info.gaplessPositions) {
    const last = from + chain.checked;
    failures.push(
      failure(
        TamperClass.Truncated,
        last + 1,
        `the store's head is position ${to} but its events end at ${last}`,
      ),
    );
  }
  failures.sort((a, b) => a.position - b.position);
  const lastSealedPosition = lastStored?.toPosition ?? 0;
  return {
    ok: failures.length === 0,
    storeId,
    backend: store.info.backend,
    from: from + 1,
    to,
    headPosition: head.position,
    checkedEvents: chain.checked,
    checkpoints: stored.length,
    lastSealedPosition,
    // The last checkpoint's own event necessarily follows what it sealed; it is not a gap in coverage.
    unsealedEvents: Math.max(
      0,
      head.position - lastSealedPosition - (stored.at(-1)?.position === head.position ? 1 : 0),
    ),
    trustedKeyIds: [...trusted.keys()],
    warnings,
    failure: failures[0] ?? null,
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * A self-consistent event that does not follow its predecessor is either a deletion (with
 * positions closed up) or a replaced event with a recomputed hash. The next checkpoint tells:
 * if the hash it sealed is still at its position, nothing was removed, so the event was replaced.
 */
function refine(
  broken: ChainBreak,
  checkpoints: readonly Checkpoint[],
  hashes: Map<number, string>,
): VerifyFailure {
  let cls = broken.class as unknown as TamperClass;
  let position = broken.position;
  let detail = broken.detail;
  if (broken.ambiguous) {
    const next = checkpoints.find((cp) => cp.toPosition >= broken.position);
    if (next && hashes.get(next.toPosition) === next.headHash) {
      cls = TamperClass.Modified;
      position = broken.position - 1;
      detail = `the event before position ${broken.position} was replaced (its hash recomputed): the positions checkpoint ${next.seq} sealed are intact`;
    } else if (next) {
      detail = `${broken.detail}; checkpoint ${next.seq} no longer matches, so events were removed`;
    }
  }
  return failure(cls, position, detail, { streamId: broken.streamId });
}

/** The `audit.verified` payload that records a verification run. */
export function verificationRecord(report: VerifyReport): AuditPayload<'audit.verified'> {
  return {
    fromPosition: report.from,
    toPosition: report.to,
    checked: report.checkedEvents,
    checkpoints: report.checkpoints,
    ok: report.ok,
    ...(report.failure
      ? { failureClass: report.failure.class, failurePosition: report.failure.position }
      : {}),
  };
}
