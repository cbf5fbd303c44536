/** What to do with a sequenced event. */
export type SeqVerdict =
  /** The next event: deliver it. */
  | 'deliver'
  /** Already delivered (a redelivery after a resume): drop it. */
  | 'duplicate'
  /** Later than the next one: events were lost. It is delivered, and the loss reported. */
  | 'gap';

/**
 * The highest `seq` delivered for the current session membership. Sequenced events run 1, 2, 3 …
 * per peer, without gaps, across a resume; after a resume the server redelivers what followed
 * `lastSeq`, and anything at or below what was already delivered is a duplicate.
 */
export class SeqTracker {
  private lastSeq = 0;

  /** The highest `seq` delivered (0: none): `session.resume`'s `lastSeq` and `ping`'s `ack`. */
  get last(): number {
    return this.lastSeq;
  }

  /** Judges `seq` and, unless it is a duplicate, records it as delivered. */
  accept(seq: number): SeqVerdict {
    if (seq <= this.lastSeq) return 'duplicate';
    const verdict = seq === this.lastSeq + 1 ? 'deliver' : 'gap';
    this.lastSeq = seq;
    return verdict;
  }

  /** A new membership (session opened or joined): numbering starts again at 1. */
  reset(): void {
    this.lastSeq = 0;
  }
}
