import { chainHash, payloadDigest, type ChainRecord } from './chain.js';

/** How the chain was broken. */
export enum ChainBreakClass {
  /** An event's envelope or payload differs from what was committed. */
  Modified = 'modified',
  /** One or more committed events are missing. */
  Deleted = 'deleted',
  /** An event is present that was never committed in this place. */
  Inserted = 'inserted',
  /** Committed events appear in another order. */
  Reordered = 'reordered',
}

/** The first place the chain does not hold. */
export interface ChainBreak {
  readonly class: ChainBreakClass;
  /** Global position of the first event affected (for `deleted`: the first missing position). */
  readonly position: number;
  /** Stream of the event at that position, when there is one. */
  readonly streamId: string | null;
  readonly detail: string;
  /**
   * True when the local evidence cannot tell a deletion from a replaced event whose hash was
   * recomputed; the audit verifier settles it with the next signed checkpoint.
   */
  readonly ambiguous?: boolean;
}

/** Options of {@link ChainVerifier}. */
export interface ChainVerifierOptions {
  /** Hash the first record must link to (the genesis hash, or the stored hash before a segment). */
  readonly prevHash: string;
  /** Position the first record must have. */
  readonly firstPosition: number;
  /**
   * Positions whose payload was redacted by an authorised, signed redaction: for them a payload
   * that no longer matches its digest is reported in `redacted`, not as a break.
   */
  readonly redactedPositions?: ReadonlySet<number>;
  /** Records collected after a suspected break to classify it. Default 1024. */
  readonly lookahead?: number;
  /**
   * Default true: positions must be consecutive, so a missing one is a deletion. False for
   * backends whose positions have gaps (KurrentDB): positions must only increase, and deletions
   * show as broken links.
   */
  readonly gaplessPositions?: boolean;
}

/** Totals of a verification run. */
export interface ChainSummary {
  readonly count: number;
  readonly firstPosition: number | null;
  readonly lastPosition: number | null;
  readonly lastHash: string;
  readonly redacted: readonly number[];
}

/**
 * Streams records in position order and finds the first break, if any. Feed pages with
 * {@link push} until it returns a break or the records end, then call {@link finish}.
 */
export class ChainVerifier {
  private prevHash: string;
  private expectedPosition: number;
  private last: ChainRecord | null = null;
  private beforeLast: ChainRecord | null = null;
  private suspect: {
    record: ChainRecord;
    prev: ChainRecord | null;
    prevPrev: ChainRecord | null;
    kind: 'content' | 'link';
  } | null = null;
  private readonly window: ChainRecord[] = [];
  private result: ChainBreak | null = null;
  private count = 0;
  private firstPosition: number | null = null;
  private readonly redacted: number[] = [];
  private readonly lookahead: number;

  constructor(private readonly options: ChainVerifierOptions) {
    this.prevHash = options.prevHash;
    this.expectedPosition = options.firstPosition;
    this.lookahead = options.lookahead ?? 1024;
  }

  /** Checks a page of records; returns the break once it is known. */
  push(records: readonly ChainRecord[]): ChainBreak | null {
    if (this.result) return this.result;
    for (const r of records) {
      if (this.suspect) {
        this.window.push(r);
        if (this.window.length >= this.lookahead) return (this.result = this.classify());
        continue;
      }
      this.count++;
      this.firstPosition ??= r.position;
      const gapless = this.options.gaplessPositions !== false;
      if (gapless ? r.position !== this.expectedPosition : r.position < this.expectedPosition) {
        if (gapless && r.position > this.expectedPosition) {
          return (this.result = {
            class: ChainBreakClass.Deleted,
            position: this.expectedPosition,
            streamId: null,
            detail: `positions ${this.expectedPosition}..${r.position - 1} are missing`,
          });
        }
        return (this.result = {
          class: ChainBreakClass.Inserted,
          position: r.position,
          streamId: r.streamId,
          detail: `position ${r.position} appears again after ${this.expectedPosition - 1}`,
        });
      }
      if (payloadDigest(r.dataJson) !== r.dataDigest) {
        if (this.options.redactedPositions?.has(r.position)) this.redacted.push(r.position);
        else {
          return (this.result = {
            class: ChainBreakClass.Modified,
            position: r.position,
            streamId: r.streamId,
            detail: 'the payload does not match its committed digest',
          });
        }
      }
      const contentOk = chainHash(r.prevHash, r) === r.hash;
      if (!contentOk || r.prevHash !== this.prevHash) {
        this.suspect = {
          record: r,
          prev: this.last,
          prevPrev: this.beforeLast,
          kind: contentOk ? 'link' : 'content',
        };
        continue;
      }
      this.beforeLast = this.last;
      this.last = r;
      this.prevHash = r.hash;
      this.expectedPosition = r.position + 1;
    }
    return null;
  }

  /** Ends the run: settles a suspected break with the records seen, and returns the totals. */
  finish(): { break: ChainBreak | null; summary: ChainSummary } {
    if (!this.result && this.suspect) this.result = this.classify();
    return {
      break: this.result,
      summary: {
        count: this.count,
        firstPosition: this.firstPosition,
        lastPosition: this.last?.position ?? null,
        lastHash: this.prevHash,
        redacted: this.redacted,
      },
    };
  }

  private classify(): ChainBreak {
    const s = this.suspect!;
    const r = s.record;
    const expectedPrev = s.prev ? s.prev.hash : this.options.prevHash;
    const next = this.window[0];
    if (s.kind === 'content') {
      if (next && next.prevHash === expectedPrev && chainHash(next.prevHash, next) === next.hash) {
        return {
          class: ChainBreakClass.Inserted,
          position: r.position,
          streamId: r.streamId,
          detail: 'this event is not part of the chain: its successor links to its predecessor',
        };
      }
      return {
        class: ChainBreakClass.Modified,
        position: r.position,
        streamId: r.streamId,
        detail: 'the envelope does not match the hash committed for it',
      };
    }
    // The record is self-consistent but does not follow its predecessor.
    if (s.prev && r.prevHash === s.prev.prevHash) {
      return {
        class: ChainBreakClass.Inserted,
        position: s.prev.position,
        streamId: s.prev.streamId,
        detail: `the next event links past this one to position ${s.prev.position - 1}`,
      };
    }
    if (this.window.some((w) => w.hash === r.prevHash)) {
      return {
        class: ChainBreakClass.Reordered,
        position: r.position,
        streamId: r.streamId,
        detail: 'this event appears before the event it was committed after',
      };
    }
    return {
      class: ChainBreakClass.Deleted,
      position: r.position,
      streamId: r.streamId,
      detail:
        'the event this one was committed after is missing here (deleted, or replaced with a recomputed hash)',
      ambiguous: true,
    };
  }
}
