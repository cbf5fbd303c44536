import {
  ChainBreakClass,
  ChainVerifier,
  NO_STREAM,
  isWrongExpectedRevisionError,
  type ChainBreak,
  type EventStore,
} from '@sscontrol/event-store';
import { AnchorLog } from './anchor-log.js';
import { decodeAuditEvent } from './audit-record.js';
import type { AuditRecorder } from './audit-recorder.js';
import type { Checkpoint } from './catalogue/audit-trail.events.js';
import {
  checkpointSigningPayload,
  signBytes,
  type UnsignedCheckpoint,
} from './checkpoint-signature.js';
import type { CheckpointKeys, CheckpointPublicKey } from './checkpoint-keys.js';
import type { Actor } from './envelope.js';

/** Positions between two anchors recorded in a checkpoint. */
export const ANCHOR_INTERVAL = 1000;

/** Options of {@link CheckpointSealer}. */
export interface CheckpointSealerOptions {
  /** Seal once this many events are unsealed. Default 10,000. */
  readonly everyEvents?: number;
  /** Seal events older than this. Default 60,000 ms. */
  readonly everyMs?: number;
  /** How often to look. Default: a quarter of everyMs, at most 1 s. */
  readonly tickMs?: number;
  /** Told when the chain does not verify before sealing: the trail was tampered with. */
  readonly onChainBroken?: (broken: ChainBreak) => void;
  /** Told about a sealing attempt that failed for any other reason (store unavailable…). */
  readonly onError?: (error: unknown) => void;
  /** Told about every checkpoint this process sealed. */
  readonly onSealed?: (checkpoint: Checkpoint) => void;
}

const SYSTEM: Actor = { type: 'system', id: 'checkpoint-sealer' };

/**
 * Seals the trail with signed checkpoints: at least every `everyEvents` events or `everyMs`
 * while events arrive. Before signing it re-verifies the chain since the last checkpoint, so a
 * tampered trail is never signed and is reported within one interval. Every process that writes
 * may run one: the checkpoint stream is appended with an expected revision, so concurrent sealers
 * produce one linear sequence.
 */
export class CheckpointSealer {
  private last: Checkpoint | null = null;
  /** Position of the event that recorded `last` (not worth sealing on its own). */
  private lastEventPosition = 0;
  private timer: NodeJS.Timeout | null = null;
  private sealing: Promise<Checkpoint | null> | null = null;
  private loaded = false;
  private broken: ChainBreak | null = null;
  private readonly anchors: AnchorLog;
  private readonly everyEvents: number;
  private readonly everyMs: number;

  constructor(
    private readonly store: EventStore,
    private readonly recorder: AuditRecorder,
    private readonly keys: CheckpointKeys,
    anchorDir: string,
    private readonly options: CheckpointSealerOptions = {},
  ) {
    this.anchors = new AnchorLog(anchorDir, store.info.storeId);
    this.everyEvents = options.everyEvents ?? 10_000;
    this.everyMs = options.everyMs ?? 60_000;
  }

  /** The last checkpoint known to this sealer. */
  get lastCheckpoint(): Checkpoint | null {
    return this.last;
  }

  /** The break found by the last attempt, if the trail does not verify. */
  get chainBreak(): ChainBreak | null {
    return this.broken;
  }

  /** Publishes the signing key if needed, reconciles the anchor file, and starts sealing on a timer. */
  async start(): Promise<void> {
    await this.load();
    const tick = this.options.tickMs ?? Math.min(1000, Math.max(50, Math.floor(this.everyMs / 4)));
    this.timer = setInterval(() => {
      void this.sealIfDue().catch((error: unknown) => this.options.onError?.(error));
    }, tick);
    this.timer.unref();
  }

  /** Stops the timer; with `finalSeal`, seals what is unsealed first (graceful shutdown). */
  async stop(options: { finalSeal?: boolean } = {}): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.sealing?.catch(() => undefined);
    if (options.finalSeal)
      await this.sealNow().catch((error: unknown) => this.options.onError?.(error));
  }

  private async load(): Promise<void> {
    const key = this.keys.active();
    await this.publishKey(key.public);
    await this.reloadLast();
    await this.reconcile();
    this.loaded = true;
  }

  /** Records the key's introduction (once) in the store and the anchor file. */
  private async publishKey(key: CheckpointPublicKey): Promise<void> {
    for await (const e of this.store.readStream('audit-keys')) {
      if ((e.data as { keyId?: string }).keyId === key.keyId) {
        if (!this.anchors.keys().entries.some((k) => k.keyId === key.keyId))
          this.anchors.appendKey(key);
        return;
      }
    }
    await this.recorder.record('audit.checkpointKeyAdded', { ...key }, { actor: SYSTEM });
    this.anchors.appendKey(key);
  }

  /** Rotates the signing key: the new key is endorsed by the old one and published. */
  /** The key that signs checkpoints now (public parts). */
  activeKey(): { keyId: string; fingerprint: string } {
    const key = this.keys.active().public;
    return { keyId: key.keyId, fingerprint: key.fingerprint };
  }

  async rotateKey(): Promise<CheckpointPublicKey> {
    const next = this.keys.rotate();
    await this.publishKey(next);
    return next;
  }

  private async reloadLast(): Promise<void> {
    const revision = await this.store.streamRevision('audit-checkpoints');
    if (revision === null) {
      this.last = null;
      this.lastEventPosition = 0;
      return;
    }
    for await (const e of this.store.readStream('audit-checkpoints', {
      fromRevision: revision,
      maxCount: 1,
    })) {
      this.last = decodeAuditEvent(e).data as Checkpoint;
      this.lastEventPosition = e.position;
    }
  }

  /** Writes store checkpoints missing from the anchor file (a crash between the two writes). */
  private async reconcile(): Promise<void> {
    const anchored = new Set(this.anchors.checkpoints().entries.map((c) => c.seq));
    for await (const e of this.store.readStream('audit-checkpoints')) {
      const cp = decodeAuditEvent(e).data as Checkpoint;
      if (!anchored.has(cp.seq)) this.anchors.appendCheckpoint(cp);
    }
  }

  /** Seals if the unsealed tail is big or old enough. */
  async sealIfDue(): Promise<Checkpoint | null> {
    if (this.sealing) return null;
    const head = await this.store.head();
    const sealedTo = this.last?.toPosition ?? 0;
    const unsealed = head.position - sealedTo;
    const onlyOurOwnEvent = head.position === this.lastEventPosition;
    if (unsealed <= 0 || onlyOurOwnEvent) return null;
    const age = Date.now() - (this.last ? Date.parse(this.last.signedAt) : 0);
    if (unsealed < this.everyEvents && age < this.everyMs) return null;
    return this.sealNow();
  }

  /** Seals everything recorded so far (if anything is unsealed). */
  sealNow(): Promise<Checkpoint | null> {
    this.sealing ??= this.seal().finally(() => {
      this.sealing = null;
    });
    return this.sealing;
  }

  private async seal(): Promise<Checkpoint | null> {
    if (!this.loaded) await this.load();
    for (let attempt = 0; attempt < 5; attempt++) {
      const head = await this.store.head();
      const after = this.last?.toPosition ?? 0;
      if (head.position <= after || head.position === this.lastEventPosition) return null;
      const prevHash = (await this.store.hashesAt([after])).get(after);
      const verifier = new ChainVerifier({
        prevHash: prevHash ?? '',
        firstPosition: after + 1,
        gaplessPositions: this.store.info.gaplessPositions,
      });
      const anchors: [number, string][] = [];
      let count = 0;
      let headHash = '';
      for await (const page of this.store.readChain({ after, to: head.position })) {
        if (verifier.push(page)) break;
        for (const r of page) {
          count++;
          headHash = r.hash;
          if (r.position % ANCHOR_INTERVAL === 0) anchors.push([r.position, r.hash]);
        }
      }
      const result = verifier.finish();
      if (result.break || prevHash === undefined) {
        this.broken = result.break ?? {
          class: ChainBreakClass.Deleted,
          position: after,
          streamId: null,
          detail: `the event sealed by the last checkpoint (position ${after}) is missing`,
        };
        this.options.onChainBroken?.(this.broken);
        return null;
      }
      this.broken = null;
      const key = this.keys.active();
      const unsigned: UnsignedCheckpoint = {
        v: 1,
        storeId: this.store.info.storeId,
        seq: (this.last?.seq ?? 0) + 1,
        fromPosition: after + 1,
        toPosition: head.position,
        count,
        headHash,
        anchors,
        prevSignature: this.last?.signature ?? null,
        keyId: key.keyId,
        signedAt: new Date().toISOString(),
      };
      const checkpoint: Checkpoint = {
        ...unsigned,
        signature: signBytes(key.privateKey, checkpointSigningPayload(unsigned)),
      };
      try {
        const recorded = await this.recorder.record(
          'audit.checkpointed',
          checkpoint,
          { actor: SYSTEM },
          {
            expectedRevision: this.last ? this.last.seq - 1 : NO_STREAM,
          },
        );
        this.anchors.appendCheckpoint(checkpoint);
        this.last = checkpoint;
        this.lastEventPosition = recorded.position;
        this.options.onSealed?.(checkpoint);
        return checkpoint;
      } catch (error) {
        // Another process sealed first: continue after its checkpoint.
        if (!isWrongExpectedRevisionError(error)) throw error;
        await this.reloadLast();
        await this.reconcile();
      }
    }
    return null;
  }
}
