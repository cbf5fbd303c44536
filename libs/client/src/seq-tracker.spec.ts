import { SeqTracker } from './seq-tracker.js';

/** Delivers `seqs` through a tracker; returns what a handler would have seen. */
function run(tracker: SeqTracker, seqs: number[]) {
  const delivered: number[] = [];
  const verdicts = seqs.map((s) => {
    const v = tracker.accept(s);
    if (v !== 'duplicate') delivered.push(s);
    return v;
  });
  return { delivered, verdicts };
}

describe('SeqTracker', () => {
  it('delivers 1, 2, 3 … in order and remembers the highest', () => {
    const t = new SeqTracker();
    expect(run(t, [1, 2, 3]).verdicts).toEqual(['deliver', 'deliver', 'deliver']);
    expect(t.last).toBe(3);
  });

  it('drops the redelivery after a resume: everything up to lastSeq is seen once', () => {
    // given events 1–5 delivered, then the connection drops
    const t = new SeqTracker();
    run(t, [1, 2, 3, 4, 5]);
    const lastSeq = t.last;
    // when the server redelivers from an older acknowledgement (3) and goes on
    const { delivered, verdicts } = run(t, [4, 5, 6, 7]);
    // then handlers see 6 and 7 only, in order
    expect(lastSeq).toBe(5);
    expect(delivered).toEqual([6, 7]);
    expect(verdicts).toEqual(['duplicate', 'duplicate', 'deliver', 'deliver']);
  });

  it('drops a frame delivered twice in a row', () => {
    const t = new SeqTracker();
    expect(run(t, [1, 1, 2, 2]).delivered).toEqual([1, 2]);
  });

  it('reports a gap but still delivers (the session state may be stale)', () => {
    const t = new SeqTracker();
    const { delivered, verdicts } = run(t, [1, 4, 5, 3]);
    expect(verdicts).toEqual(['deliver', 'gap', 'deliver', 'duplicate']);
    expect(delivered).toEqual([1, 4, 5]);
  });

  it('starts again at 1 for a new membership', () => {
    const t = new SeqTracker();
    run(t, [1, 2, 3]);
    t.reset();
    expect(t.last).toBe(0);
    expect(t.accept(1)).toBe('deliver');
  });
});
