import { setTimeout as sleep } from 'node:timers/promises';
import { EventStoreErrorCode } from '../event-store.errors.js';
import { GroupCommitter, type BatchOutcome } from './group-committer.js';

function recorder(delayMs = 5, fail?: (batch: string[]) => Error | undefined) {
  const batches: string[][] = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const commit = async (batch: string[]): Promise<BatchOutcome<string>[]> => {
    batches.push(batch);
    concurrent++;
    maxConcurrent = Math.max(maxConcurrent, concurrent);
    await sleep(delayMs);
    concurrent--;
    const error = fail?.(batch);
    if (error) throw error;
    return batch.map((r) =>
      r.startsWith('conflict')
        ? { ok: false, error: new Error(r) }
        : { ok: true, value: `done:${r}` },
    );
  };
  return { commit, batches, maxConcurrent: () => maxConcurrent };
}

describe('GroupCommitter', () => {
  it('commits requests issued together in one batch, and later ones in the next', async () => {
    const r = recorder();
    const gc = new GroupCommitter(r.commit, {
      maxBatchWeight: 100,
      windowMs: 0,
      maxPendingWeight: 1000,
    });
    const first = await Promise.all(['a', 'b', 'c'].map((x) => gc.submit(x, 1)));
    expect(first).toEqual(['done:a', 'done:b', 'done:c']);
    expect(r.batches).toEqual([['a', 'b', 'c']]);
    const p = gc.submit('d', 1);
    await sleep(1);
    const q = gc.submit('e', 1);
    await Promise.all([p, q]);
    expect(r.batches.slice(1)).toEqual([['d'], ['e']]);
  });

  it('rejects only the request whose outcome failed', async () => {
    const r = recorder();
    const gc = new GroupCommitter(r.commit, {
      maxBatchWeight: 100,
      windowMs: 0,
      maxPendingWeight: 1000,
    });
    const results = await Promise.allSettled(['a', 'conflict-b', 'c'].map((x) => gc.submit(x, 1)));
    expect(results.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
  });

  it('rejects every request of a commit that failed: nothing is reported durable', async () => {
    const r = recorder(1, () => new Error('disk full'));
    const gc = new GroupCommitter(r.commit, {
      maxBatchWeight: 100,
      windowMs: 0,
      maxPendingWeight: 1000,
    });
    const results = await Promise.allSettled(['a', 'b'].map((x) => gc.submit(x, 1)));
    expect(
      results.every((x) => x.status === 'rejected' && (x.reason as Error).message === 'disk full'),
    ).toBe(true);
  });

  it('bounds batches by weight', async () => {
    const r = recorder();
    const gc = new GroupCommitter(r.commit, {
      maxBatchWeight: 5,
      windowMs: 0,
      maxPendingWeight: 1000,
    });
    await Promise.all(Array.from({ length: 12 }, (_, i) => gc.submit(`r${i}`, 1)));
    expect(r.batches.map((b) => b.length)).toEqual([5, 5, 2]);
  });

  it('waits for the window to gather more requests', async () => {
    const r = recorder(1);
    const gc = new GroupCommitter(r.commit, {
      maxBatchWeight: 100,
      windowMs: 30,
      maxPendingWeight: 1000,
    });
    const a = gc.submit('a', 1);
    await sleep(5);
    const b = gc.submit('b', 1);
    await Promise.all([a, b]);
    expect(r.batches).toEqual([['a', 'b']]);
  });

  it('refuses requests beyond the pending bound with event_store_overloaded', async () => {
    const r = recorder(20);
    const gc = new GroupCommitter(r.commit, {
      maxBatchWeight: 10,
      windowMs: 0,
      maxPendingWeight: 3,
    });
    const accepted = [gc.submit('a', 2), gc.submit('b', 1)];
    await expect(gc.submit('c', 1)).rejects.toMatchObject({ code: EventStoreErrorCode.Overloaded });
    await Promise.all(accepted);
  });

  it('keeps two commits in flight, split evenly, without putting one key in both', async () => {
    const r = recorder(10);
    const gc = new GroupCommitter<string, string>(r.commit, {
      maxBatchWeight: 100,
      windowMs: 0,
      maxPendingWeight: 1000,
      maxInFlight: 2,
      keyOf: (x) => x.split(':')[0]!,
    });
    await Promise.all(['s1:1', 's2:1', 's3:1', 's1:2', 's4:1', 's5:1'].map((x) => gc.submit(x, 1)));
    expect(r.maxConcurrent()).toBe(2);
    expect(r.batches[0]).toEqual(['s1:1', 's2:1', 's3:1']);
    // s1:2 waits for the commit holding s1:1, keeping the stream in order.
    expect(r.batches[1]).toEqual(['s4:1', 's5:1']);
    expect(r.batches[2]).toEqual(['s1:2']);
  });

  it('drains queued requests on close and refuses new ones', async () => {
    const r = recorder(5);
    const gc = new GroupCommitter(r.commit, {
      maxBatchWeight: 100,
      windowMs: 50,
      maxPendingWeight: 1000,
    });
    const pending = gc.submit('a', 1);
    await gc.close();
    await expect(pending).resolves.toBe('done:a');
    await expect(gc.submit('b', 1)).rejects.toMatchObject({ code: EventStoreErrorCode.Closed });
  });
});
