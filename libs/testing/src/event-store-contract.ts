import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ANY,
  ChainVerifier,
  EventStoreErrorCode,
  NO_STREAM,
  STREAM_EXISTS,
  WrongExpectedRevisionError,
  genesisHash,
  openEventStore,
  uuidv7,
  type EventStore,
  type EventStoreSettings,
  type RecordedEvent,
} from '@sscontrol/event-store';
import { packageRootDir } from './package-root.js';

/** How a backend differs from the others; the suite asserts accordingly. */
export interface EventStoreContractOptions {
  /** Global positions are 1..N without gaps (sqlite, postgres). */
  readonly gaplessPositions: boolean;
  /** The chain hash is written with the commit (sqlite, postgres), not by a background sealer (kurrentdb). */
  readonly chainSealedOnCommit: boolean;
}

/** A store for one test, the settings that reopen it, and its cleanup. */
export type EventStoreFactory = () => Promise<{
  store: EventStore;
  settings: EventStoreSettings;
  cleanup(): Promise<void>;
}>;

/** Collects an async iterable. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function expectCode(promise: Promise<unknown>, code: EventStoreErrorCode): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    expect((error as { code?: unknown }).code).toBe(code);
    return error;
  }
  throw new Error(`expected an error with code ${code}`);
}

/** Waits until the chain covers `position` (immediate for stores that seal on commit). */
async function sealed(store: EventStore, position: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await store.head()).position >= position) return;
    await sleep(50);
  }
  throw new Error(`chain did not reach position ${position}`);
}

async function verifyWholeChain(store: EventStore): Promise<number> {
  const verifier = new ChainVerifier({
    prevHash: genesisHash(store.info.storeId),
    firstPosition: 1,
    gaplessPositions: store.info.gaplessPositions,
  });
  for await (const page of store.readChain()) expect(verifier.push(page)).toBeNull();
  const { break: broken, summary } = verifier.finish();
  expect(broken).toBeNull();
  return summary.count;
}

/**
 * The event store contract: every backend's integration test calls this with a factory and
 * passes. It talks to the real backend.
 */
export function describeEventStoreContract(
  name: string,
  factory: EventStoreFactory,
  options: EventStoreContractOptions,
): void {
  describe(`event store contract: ${name}`, () => {
    let store: EventStore;
    let settings: EventStoreSettings;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, settings, cleanup } = await factory());
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    describe('an empty store', () => {
      it('has the genesis head and nothing to read', async () => {
        const head = await store.head();
        expect(head.position).toBe(0);
        expect(head.hash).toBe(genesisHash(store.info.storeId));
        expect(head.recordedAt).toBeNull();
        expect(await collect(store.readAll())).toEqual([]);
        expect(await collect(store.readChain())).toEqual([]);
        expect(await collect(store.readStream('session-none'))).toEqual([]);
        expect(await store.streamRevision('session-none')).toBeNull();
        expect(store.info.durability.length).toBeGreaterThan(40);
      });
    });

    describe('append and expected revisions', () => {
      it('appends to a new stream and reads it back', async () => {
        const r = await store.append(
          'session-a',
          [{ type: 'session.opened', data: { host: 'h1' }, metadata: { actor: 'op' } }],
          {
            expectedRevision: NO_STREAM,
          },
        );
        expect(r).toMatchObject({
          streamId: 'session-a',
          firstRevision: 0,
          nextExpectedRevision: 0,
          idempotent: false,
        });
        const [e] = await collect(store.readStream('session-a'));
        expect(e).toMatchObject({
          streamId: 'session-a',
          revision: 0,
          type: 'session.opened',
          schemaVersion: 1,
          data: { host: 'h1' },
          metadata: { actor: 'op' },
          position: r.firstPosition,
        });
        expect(e!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
        expect(e!.hash).toMatch(/^[0-9a-f]{64}$/);
        expect(await store.streamRevision('session-a')).toBe(0);
      });

      it('refuses a wrong expected revision with a typed conflict naming the actual revision', async () => {
        await store.append('session-b', [
          { type: 'a', data: 1 },
          { type: 'b', data: 2 },
        ]);
        const noStream = (await expectCode(
          store.append('session-b', [{ type: 'c', data: 3 }], { expectedRevision: NO_STREAM }),
          EventStoreErrorCode.WrongExpectedRevision,
        )) as WrongExpectedRevisionError;
        expect(noStream).toBeInstanceOf(WrongExpectedRevisionError);
        expect(noStream.actual).toBe(1);
        expect(noStream.streamId).toBe('session-b');
        const exact = (await expectCode(
          store.append('session-b', [{ type: 'c', data: 3 }], { expectedRevision: 0 }),
          EventStoreErrorCode.WrongExpectedRevision,
        )) as WrongExpectedRevisionError;
        expect(exact.expected).toBe(0);
        expect(exact.actual).toBe(1);
        const exists = (await expectCode(
          store.append('session-missing', [{ type: 'c', data: 3 }], {
            expectedRevision: STREAM_EXISTS,
          }),
          EventStoreErrorCode.WrongExpectedRevision,
        )) as WrongExpectedRevisionError;
        expect(exists.actual).toBeNull();
        // Nothing was recorded by the refused appends.
        expect(await store.streamRevision('session-b')).toBe(1);
        expect(await store.streamRevision('session-missing')).toBeNull();
        const ok = await store.append('session-b', [{ type: 'c', data: 3 }], {
          expectedRevision: 1,
        });
        expect(ok.firstRevision).toBe(2);
        await store.append('session-b', [{ type: 'd', data: 4 }], {
          expectedRevision: STREAM_EXISTS,
        });
        await store.append('session-b', [{ type: 'e', data: 5 }], { expectedRevision: ANY });
        expect(await store.streamRevision('session-b')).toBe(4);
      });

      it('appends several events atomically with consecutive revisions and positions', async () => {
        const r = await store.append(
          'session-c',
          Array.from({ length: 5 }, (_, i) => ({ type: 'x.happened', data: { i } })),
        );
        expect(r.nextExpectedRevision - r.firstRevision).toBe(4);
        const events = await collect(store.readStream('session-c'));
        expect(events.map((e) => e.revision)).toEqual([0, 1, 2, 3, 4]);
        expect(events.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4]);
        if (options.gaplessPositions) {
          expect(events.map((e) => e.position)).toEqual(
            [1, 2, 3, 4, 5].map((p) => p + r.firstPosition - 1),
          );
          expect(r.lastPosition).toBe(r.firstPosition + 4);
        }
      });

      it('treats a retried append with the same event ids as already done, and a reused id elsewhere as a duplicate', async () => {
        const ids = [uuidv7(), uuidv7()];
        const events = ids.map((id, i) => ({ id, type: 'key.rotated', data: { i } }));
        const first = await store.append('key-1', events, { expectedRevision: NO_STREAM });
        const retry = await store.append('key-1', events, { expectedRevision: NO_STREAM });
        expect(retry).toMatchObject({
          firstRevision: 0,
          nextExpectedRevision: 1,
          firstPosition: first.firstPosition,
          idempotent: true,
        });
        expect(await collect(store.readStream('key-1'))).toHaveLength(2);
        await expectCode(store.append('key-2', [events[0]!]), EventStoreErrorCode.DuplicateEvent);
        expect(await store.streamRevision('key-2')).toBeNull();
      });

      it('refuses malformed input with event_store_invalid_event and records nothing', async () => {
        const bad: [string, Promise<unknown>][] = [
          ['empty stream id', store.append('', [{ type: 'a', data: 1 }])],
          ['control character in stream id', store.append('session-\n1', [{ type: 'a', data: 1 }])],
          ['control character in type', store.append('s-1', [{ type: 'a\u0000b', data: 1 }])],
          ['no events', store.append('s-1', [])],
          ['NaN', store.append('s-1', [{ type: 'a', data: { n: Number.NaN } }])],
          ['bigint', store.append('s-1', [{ type: 'a', data: { n: 1n } }])],
          [
            'reserved metadata',
            store.append('s-1', [{ type: 'a', data: 1, metadata: { $traceId: 'x' } }]),
          ],
          [
            'upper-case id',
            store.append('s-1', [
              { id: 'ABCDEF00-0000-7000-8000-000000000000', type: 'a', data: 1 },
            ]),
          ],
          [
            'too large',
            store.append('s-1', [{ type: 'a', data: 'x'.repeat(4 * 1024 * 1024 + 1) }]),
          ],
        ];
        for (const [, p] of bad) await expectCode(p, EventStoreErrorCode.InvalidEvent);
        expect(await store.streamRevision('s-1')).toBeNull();
        expect((await store.head()).position).toBe(0);
      });
    });

    describe('payloads', () => {
      it('keeps unicode and large payloads exactly', async () => {
        const data = {
          text: 'héllo 世界 🖥️🔐 مرحبا \u0000 \u2028 "quoted" \\ back',
          nested: { b: [1, 2.5, -0.001, 1e21, true, null], a: { z: 'ż', 'key with space': 1 } },
          big: 'x'.repeat(1024 * 1024),
        };
        await store.append('session-u', [{ type: 'session.opened', data, metadata: { ü: 'ñ' } }]);
        const [e] = await collect(store.readStream('session-u'));
        expect(e!.data).toEqual(data);
        expect(e!.metadata).toEqual({ ü: 'ñ' });
        await sealed(store, e!.position);
        await verifyWholeChain(store);
      });
    });

    describe('streams', () => {
      it('reads a very large stream in order, from a revision, and up to a count', async () => {
        const total = 12_000;
        for (let i = 0; i < total; i += 1000) {
          await store.append(
            'session-big',
            Array.from({ length: 1000 }, (_, j) => ({ type: 'tick', data: { n: i + j } })),
            {
              expectedRevision: i === 0 ? NO_STREAM : i - 1,
            },
          );
        }
        const all = await collect(store.readStream('session-big'));
        expect(all).toHaveLength(total);
        expect(all.every((e, i) => e.revision === i && (e.data as { n: number }).n === i)).toBe(
          true,
        );
        const tail = await collect(store.readStream('session-big', { fromRevision: 11_990 }));
        expect(tail.map((e) => e.revision)).toEqual(
          Array.from({ length: 10 }, (_, i) => 11_990 + i),
        );
        const some = await collect(
          store.readStream('session-big', { fromRevision: 500, maxCount: 1500 }),
        );
        expect(some).toHaveLength(1500);
        expect(some[0]!.revision).toBe(500);
        expect(some[1499]!.revision).toBe(1999);
      });
    });

    describe('the global log', () => {
      it('orders every event of concurrent writers once, with gapless stream revisions and an intact chain', async () => {
        const writers = 32;
        const perWriter = 25;
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            for (let n = 0; n < perWriter; n++) {
              // Writers share 4 streams and use optimistic concurrency with retries.
              const stream = `session-shared-${w % 4}`;
              for (;;) {
                const rev = await store.streamRevision(stream);
                try {
                  await store.append(stream, [{ type: 'peer.joined', data: { w, n } }], {
                    expectedRevision: rev ?? NO_STREAM,
                  });
                  break;
                } catch (e) {
                  if (!(e instanceof WrongExpectedRevisionError)) throw e;
                }
              }
            }
          }),
        );
        const all = await collect(store.readAll());
        expect(all).toHaveLength(writers * perWriter);
        const positions = all.map((e) => e.position);
        expect([...positions].sort((a, b) => a - b)).toEqual(positions);
        if (options.gaplessPositions)
          expect(positions).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
        for (let s = 0; s < 4; s++) {
          const revs = all
            .filter((e) => e.streamId === `session-shared-${s}`)
            .map((e) => e.revision);
          expect(revs).toEqual(Array.from({ length: revs.length }, (_, i) => i));
        }
        const seen = new Set(
          all.map((e) => `${(e.data as { w: number }).w}:${(e.data as { n: number }).n}`),
        );
        expect(seen.size).toBe(writers * perWriter);
        const times = all.map((e) => e.recordedAt.getTime());
        if (options.chainSealedOnCommit) expect([...times].sort((a, b) => a - b)).toEqual(times);
        await sealed(store, positions[positions.length - 1]!);
        expect(await verifyWholeChain(store)).toBe(all.length);
        const head = await store.head();
        expect(head.position).toBe(positions[positions.length - 1]);
        expect(head.hash).toBe(all[all.length - 1]!.hash);
        expect(store.info.gaplessPositions).toBe(options.gaplessPositions);
        const hashes = await store.hashesAt([positions[0]!, positions[10]!]);
        expect(hashes.get(positions[10]!)).toBe(all[10]!.hash);
      });

      it('filters by type, stream prefix, position range and time, in pages', async () => {
        await store.append('session-1', [{ type: 'session.opened', data: 1 }]);
        await store.append('connection-1', [{ type: 'connection.opened', data: 2 }]);
        await sleep(30);
        const middle = new Date();
        await sleep(30);
        await store.append('session-1', [{ type: 'session.ended', data: 3 }]);
        await store.append('connection-2', [
          { type: 'connection.opened', data: 4 },
          { type: 'connection.closed', data: 5 },
        ]);
        const all = await collect(store.readAll());
        expect(all.map((e) => e.data)).toEqual([1, 2, 3, 4, 5]);
        const data = (events: RecordedEvent[]) => events.map((e) => e.data);
        expect(data(await collect(store.readAll({ types: ['connection.opened'] })))).toEqual([
          2, 4,
        ]);
        expect(
          data(await collect(store.readAll({ types: ['connection.opened', 'session.ended'] }))),
        ).toEqual([2, 3, 4]);
        expect(data(await collect(store.readAll({ streamPrefixes: ['session-'] })))).toEqual([
          1, 3,
        ]);
        expect(
          data(await collect(store.readAll({ streamPrefixes: ['connection-', 'session-1'] }))),
        ).toEqual([1, 2, 3, 4, 5]);
        expect(data(await collect(store.readAll({ since: middle })))).toEqual([3, 4, 5]);
        expect(data(await collect(store.readAll({ until: middle })))).toEqual([1, 2]);
        expect(
          data(await collect(store.readAll({ since: middle, types: ['connection.opened'] }))),
        ).toEqual([4]);
        expect(
          data(await collect(store.readAll({ after: all[1]!.position, to: all[3]!.position }))),
        ).toEqual([3, 4]);
        expect(data(await collect(store.readAll({ maxCount: 2 })))).toEqual([1, 2]);
        expect(data(await collect(store.readAll({ batchSize: 2 })))).toEqual([1, 2, 3, 4, 5]);
        expect(
          data(await collect(store.readAll({ types: ['connection.closed'], batchSize: 1 }))),
        ).toEqual([5]);
        expect(await collect(store.readAll({ types: ['nothing.matches'] }))).toEqual([]);
      });
    });

    describe('subscriptions', () => {
      it('catches up, then delivers live events in order', async () => {
        await store.append('session-1', [
          { type: 'a', data: 1 },
          { type: 'a', data: 2 },
        ]);
        const seen: { data: unknown; live: boolean }[] = [];
        const sub = store.subscribe({
          handler: (e, ctx) => void seen.push({ data: e.data, live: ctx.live }),
          pollIntervalMs: 50,
        });
        await sub.caughtUp();
        expect(seen.map((s) => s.data)).toEqual([1, 2]);
        await store.append('session-2', [{ type: 'a', data: 3 }]);
        await store.append('session-1', [{ type: 'a', data: 4 }]);
        for (let i = 0; i < 100 && seen.length < 4; i++) await sleep(20);
        expect(seen.map((s) => s.data)).toEqual([1, 2, 3, 4]);
        expect(seen[3]!.live).toBe(true);
        await sub.stop();
        await sub.done;
      });

      it('resumes a named subscription after its persisted position, skipping nothing', async () => {
        for (let i = 0; i < 10; i++)
          await store.append(`session-${i % 3}`, [{ type: 'n', data: i }]);
        const first: unknown[] = [];
        const a = store.subscribe({
          name: 'projector',
          handler: (e) => void first.push(e.data),
          batchSize: 4,
        });
        await a.caughtUp();
        await a.stop();
        expect(first).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        expect(await store.subscriptionPosition('projector')).toBe(a.position);
        for (let i = 10; i < 15; i++)
          await store.append(`session-${i % 3}`, [{ type: 'n', data: i }]);
        const second: unknown[] = [];
        const b = store.subscribe({
          name: 'projector',
          handler: (e) => void second.push(e.data),
          batchSize: 4,
        });
        await b.caughtUp();
        await b.stop();
        expect(second).toEqual([10, 11, 12, 13, 14]);
      });

      it('redelivers the events of a batch whose handler failed (at-least-once)', async () => {
        for (let i = 0; i < 6; i++) await store.append('session-f', [{ type: 'n', data: i }]);
        const seen: unknown[] = [];
        const failing = store.subscribe({
          name: 'flaky',
          batchSize: 3,
          handler: (e) => {
            if (e.data === 4) throw new Error('projection crashed');
            seen.push(e.data);
          },
        });
        await expect(failing.done).rejects.toThrow('projection crashed');
        const again: unknown[] = [];
        const b = store.subscribe({
          name: 'flaky',
          batchSize: 3,
          handler: (e) => void again.push(e.data),
        });
        await b.caughtUp();
        await b.stop();
        expect(seen).toEqual([0, 1, 2, 3]);
        // Position 3 was handled but not persisted with its batch: it comes again. Nothing is skipped.
        expect(again).toEqual([3, 4, 5]);
      });

      it('with a filter, delivers matching events and advances past the others', async () => {
        await store.append('session-1', [
          { type: 'keep', data: 1 },
          { type: 'skip', data: 2 },
          { type: 'keep', data: 3 },
        ]);
        for (let i = 0; i < 20; i++)
          await store.append('session-2', [{ type: 'skip', data: 100 + i }]);
        const seen: unknown[] = [];
        const sub = store.subscribe({
          name: 'kept',
          types: ['keep'],
          handler: (e) => void seen.push(e.data),
          batchSize: 5,
        });
        await sub.caughtUp();
        await sub.stop();
        expect(seen).toEqual([1, 3]);
        expect(sub.position).toBe((await store.head()).position);
      });
    });

    describe('durability', () => {
      it('keeps every acknowledged append when the process is killed mid-stream, and accepts appends after restart', async () => {
        await store.close();
        const child = spawn(
          process.execPath,
          [
            path.join(packageRootDir(), 'dist/libs/testing/src/event-store-crash-child.js'),
            JSON.stringify(settings),
          ],
          { stdio: ['ignore', 'pipe', 'inherit'] },
        );
        const acked: { position: number; writer: number; n: number }[] = [];
        let buffer = '';
        child.stdout.on('data', (chunk: Buffer) => {
          buffer += chunk.toString();
          const lines = buffer.split('\n');
          buffer = lines.pop()!;
          for (const line of lines) {
            const [position, writer, n] = line.split(' ').map(Number);
            acked.push({ position: position!, writer: writer!, n: n! });
            if (acked.length === 300) child.kill('SIGKILL');
          }
        });
        await once(child, 'exit');
        expect(acked.length).toBeGreaterThanOrEqual(300);
        store = await openEventStore(settings);
        const recorded = await collect(store.readAll());
        const byPosition = new Map(
          recorded.map((e) => [e.position, e.data as { writer: number; n: number }]),
        );
        for (const a of acked)
          expect(byPosition.get(a.position)).toEqual({ writer: a.writer, n: a.n });
        const next = await store.append('crash-0', [{ type: 'crash.after', data: {} }]);
        expect(next.lastPosition).toBeGreaterThan(Math.max(...acked.map((a) => a.position)));
        await sealed(store, next.lastPosition);
        await verifyWholeChain(store);
      });

      it('commits concurrent appends together and resolves each only after its commit', async () => {
        const results = await Promise.all(
          Array.from({ length: 300 }, (_, i) =>
            store.append(`connection-${i}`, [{ type: 'connection.opened', data: { i } }]),
          ),
        );
        const positions = results.map((r) => r.firstPosition);
        expect(new Set(positions).size).toBe(300);
        for (const r of results) expect(await store.streamRevision(r.streamId)).toBe(0);
      });
    });
  });
}
