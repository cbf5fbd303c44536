import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  MaxAppendSizeExceededError,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
  type AllStreamResolvedEvent,
  type AppendResult as ClientAppendResult,
  type AppendStreamState,
  type EventData,
  type Filter,
  type ResolvedEvent,
} from '@kurrent/kurrentdb-client';
import { canonicalJson } from '../canonical-json.js';
import { ChainBreakClass, ChainVerifier } from '../chain-verifier.js';
import { chainHash, genesisHash, payloadDigest, type ChainRecord } from '../chain.js';
import {
  EventStoreError,
  EventStoreErrorCode,
  WrongExpectedRevisionError,
} from '../event-store.errors.js';
import type { EventStore } from '../event-store.js';
import { prepareAppend } from '../internal/prepare.js';
import { openKurrentDbEventStore } from './kurrentdb-event-store.js';
import type { KurrentDbClient } from './kurrentdb-log.js';
import {
  checkStreamId,
  decodeChainEntries,
  describeConnection,
  internalStreams,
  logicalStreamId,
  positionToNumber,
  redactSecrets,
  sealEntries,
  storeStreamsRegex,
  toChainRecord,
  toEventStoreError,
  toReadPosition,
  toStoredEvent,
  toStreamState,
  unwrapMetadata,
  wrapMetadata,
  type ClientEvent,
  type StoredEvent,
} from './kurrentdb-mapping.js';

const SECRET_URL = 'kurrentdb://admin:s3cr%3Ft-pw@node1:2113,node2:2113?tls=true&tlsCAFile=/ca.crt';

function clientEvent(
  overrides: Omit<Partial<ClientEvent>, 'position'> & { at?: bigint } = {},
): ClientEvent {
  const prepared = prepareAppend(
    'session-1',
    [{ type: 'session.opened', data: { b: 2, a: [1, 'x'] }, metadata: { actor: 'op' } }],
    'any',
  ).events[0]!;
  const { at, ...rest } = overrides;
  const p = at ?? 1000n;
  return {
    streamId: 'p-session-1',
    id: prepared.id,
    revision: 0n,
    type: prepared.type,
    created: new Date(1_800_000_000_123),
    isJson: true,
    // What the client hands back: the payload and metadata parsed from what it stringified.
    data: JSON.parse(JSON.stringify(JSON.parse(prepared.dataJson))) as unknown,
    metadata: JSON.parse(JSON.stringify(wrapMetadata(prepared))) as unknown,
    position: { commit: p, prepare: p },
    ...rest,
  };
}

describe('kurrentdb mapping', () => {
  describe('expected revision to streamState', () => {
    it('maps the encoded constants and exact revisions', () => {
      expect(toStreamState(-1)).toBe('any');
      expect(toStreamState(-2)).toBe('no_stream');
      expect(toStreamState(-3)).toBe('stream_exists');
      expect(toStreamState(0)).toBe(0n);
      expect(toStreamState(41)).toBe(41n);
      expect(() => toStreamState(-4)).toThrow(RangeError);
    });
  });

  describe('positions', () => {
    it('uses the $all commit position as the global position', () => {
      expect(positionToNumber({ commit: 4242n, prepare: 4242n })).toBe(4242);
      expect(() => positionToNumber({ commit: 2n ** 60n, prepare: 2n ** 60n })).toThrow(
        EventStoreError,
      );
    });

    it('resumes forward reads at the event itself (inclusive), and at the start for 0', () => {
      expect(toReadPosition(0)).toBe('start');
      expect(toReadPosition(4242)).toEqual({ commit: 4242n, prepare: 4242n });
    });
  });

  describe('stream names', () => {
    it('prefixes logical streams and keeps the store namespace apart', () => {
      const s = internalStreams('t1-');
      expect(s.chain).toBe('t1-sscontrol-chain');
      expect(s.store).toBe('t1-sscontrol-store');
      expect(s.subscription('projector')).toBe('t1-sscontrol-subscription-projector');
      expect(logicalStreamId('t1-', 't1-session-1')).toBe('session-1');
      expect(logicalStreamId('t1-', 't2-session-1')).toBeNull();
      expect(logicalStreamId('t1-', s.chain)).toBeNull();
      expect(logicalStreamId('', '$$session-1')).toBeNull();
    });

    it('filters $all server-side to the store streams, without its bookkeeping', () => {
      const prefixed = new RegExp(storeStreamsRegex('t.1-'));
      expect(['t.1-session-1', 't.1-sscontrol', 't.1-x'].map((s) => prefixed.test(s))).toEqual([
        true,
        true,
        true,
      ]);
      const dropped = [
        't.1-sscontrol-chain',
        't.1-sscontrol-id-x',
        'tx1-session-1',
        't.2-a',
        '$stats',
        'x',
      ];
      expect(dropped.filter((s) => prefixed.test(s))).toEqual([]);
      const root = new RegExp(storeStreamsRegex(''));
      expect(['session-1', 'o-sscontrol-chain'].every((s) => root.test(s))).toBe(true);
      expect(['$stats-node', '$$session-1', 'sscontrol-store'].some((s) => root.test(s))).toBe(
        false,
      );
    });

    it('refuses reserved and system stream ids as invalid events', () => {
      expect(checkStreamId('session-1')).toBe('session-1');
      for (const id of ['sscontrol-chain', 'sscontrol-subscription-x', '$$session-1', '$all', '']) {
        expect(() => checkStreamId(id)).toThrow(
          expect.objectContaining({ code: EventStoreErrorCode.InvalidEvent }),
        );
      }
    });
  });

  describe('metadata envelope', () => {
    it('wraps schema version and payload digest beside the metadata, and unwraps them', () => {
      const [e] = prepareAppend(
        's-1',
        [{ type: 't', schemaVersion: 3, data: { x: 1 }, metadata: { b: 1, a: 'z' } }],
        'any',
      ).events;
      const stored = wrapMetadata(e!);
      expect(stored).toEqual({ sscontrol: { v: 3, d: e!.dataDigest }, app: { a: 'z', b: 1 } });
      const back = unwrapMetadata(JSON.parse(JSON.stringify(stored)));
      expect(back).toEqual({
        schemaVersion: 3,
        dataDigest: e!.dataDigest,
        metadata: { a: 'z', b: 1 },
        metadataJson: e!.metadataJson,
      });
    });

    it('ignores keys that instrumentation adds, at either level', () => {
      const raw = {
        $traceId: 'abc',
        $spanId: 'def',
        sscontrol: { v: 1, d: 'f'.repeat(64) },
        app: { actor: 'op', $x: 1 },
      };
      expect(unwrapMetadata(raw)).toMatchObject({
        metadata: { actor: 'op' },
        metadataJson: '{"actor":"op"}',
      });
    });

    it('recognises only its own envelope', () => {
      expect(unwrapMetadata(undefined)).toBeNull();
      expect(unwrapMetadata({ actor: 'op' })).toBeNull();
      expect(unwrapMetadata({ sscontrol: { v: 0 }, app: {} })).toBeNull();
      expect(unwrapMetadata({ sscontrol: { v: 1 }, app: [] })).toBeNull();
      expect(unwrapMetadata({ sscontrol: { v: 1, d: 'nope' }, app: {} })).toMatchObject({
        dataDigest: null,
      });
    });
  });

  describe('stored events', () => {
    it('rebuilds the exact canonical strings that were appended', () => {
      const e = toStoredEvent('p-', clientEvent());
      expect(e).toMatchObject({
        position: 1000,
        streamId: 'session-1',
        revision: 0,
        schemaVersion: 1,
        metadata: { actor: 'op' },
      });
      expect(e!.dataJson).toBe('{"a":[1,"x"],"b":2}');
      expect(e!.dataDigest).toBe(payloadDigest(e!.dataJson));
      expect(e!.recordedAt.getTime()).toBe(1_800_000_000_123);
    });

    it('keeps the appended digest when the payload changed (a redaction, or tampering)', () => {
      const original = toStoredEvent('p-', clientEvent())!;
      const redacted = toStoredEvent('p-', clientEvent({ data: '\uffff\uffff' }))!;
      expect(redacted.dataDigest).toBe(original.dataDigest);
      expect(payloadDigest(redacted.dataJson)).not.toBe(redacted.dataDigest);
    });

    it('skips what is not an event of this store', () => {
      expect(toStoredEvent('q-', clientEvent())).toBeNull();
      expect(toStoredEvent('p-', clientEvent({ streamId: 'p-sscontrol-chain' }))).toBeNull();
      expect(toStoredEvent('p-', clientEvent({ isJson: false }))).toBeNull();
      expect(toStoredEvent('p-', clientEvent({ metadata: { $correlationId: 'x' } }))).toBeNull();
    });
  });

  describe('chain records', () => {
    function storedChain(n: number): StoredEvent[] {
      return Array.from({ length: n }, (_, i) =>
        toStoredEvent('p-', clientEvent({ at: BigInt(i + 1), revision: BigInt(i) }))!,
      );
    }

    it('seals events into entries a verifier accepts', () => {
      const storeId = randomUUID();
      const events = storedChain(5);
      const entries = sealEntries(genesisHash(storeId), events);
      expect(entries[0]![4]).toBe(genesisHash(storeId));
      expect(entries[4]![4]).toBe(entries[3]![5]);
      const decoded = decodeChainEntries(JSON.parse(JSON.stringify({ entries })), 0);
      const records = events.map((e, i) => toChainRecord(e, decoded[i]![4], decoded[i]![5]));
      const v = new ChainVerifier({ prevHash: genesisHash(storeId), firstPosition: 1 });
      expect(v.push(records)).toBeNull();
      expect(v.finish().summary.lastHash).toBe(entries[4]![5]);
    });

    it('lets the verifier find a modified payload, and accept an authorised redaction', () => {
      const storeId = randomUUID();
      const events = storedChain(4);
      const entries = sealEntries(genesisHash(storeId), events);
      const changed = toStoredEvent(
        'p-',
        clientEvent({ at: 3n, revision: 2n, data: { other: true } }),
      )!;
      const records: ChainRecord[] = events.map((e, i) =>
        toChainRecord(i === 2 ? changed : e, entries[i]![4], entries[i]![5]),
      );
      const plain = new ChainVerifier({ prevHash: genesisHash(storeId), firstPosition: 1 });
      expect(plain.push(records)).toMatchObject({ class: ChainBreakClass.Modified, position: 3 });
      const authorised = new ChainVerifier({
        prevHash: genesisHash(storeId),
        firstPosition: 1,
        redactedPositions: new Set([3]),
      });
      expect(authorised.push(records)).toBeNull();
      expect(authorised.finish().summary.redacted).toEqual([3]);
    });

    it('refuses chain data it did not write', () => {
      const hash = 'a'.repeat(64);
      expect(() => decodeChainEntries({ entries: [] }, 1)).toThrow(EventStoreError);
      expect(() =>
        decodeChainEntries(
          {
            entries: [
              [2, 's', 0, 'id', hash, hash],
              [1, 's', 1, 'id', hash, hash],
            ],
          },
          1,
        ),
      ).toThrow(/chain record 1 is malformed/);
      expect(() => decodeChainEntries({ entries: [[1, 's', 0, 'id', hash]] }, 1)).toThrow(
        EventStoreError,
      );
      expect(() => decodeChainEntries('x', 1n)).toThrow(EventStoreError);
    });
  });

  describe('connection strings and errors', () => {
    it('describes a connection without credentials or options', () => {
      expect(describeConnection(SECRET_URL)).toBe('kurrentdb://node1:2113,node2:2113');
      expect(describeConnection('esdb://localhost:2113?tls=false')).toBe('esdb://localhost:2113');
      expect(describeConnection('garbage')).toBe('kurrentdb');
    });

    it('strips credentials from any message', () => {
      const text = `failed ${SECRET_URL}; password s3cr?t-pw or s3cr%3Ft-pw; other kdb://u:p@h:1`;
      const out = redactSecrets(text, SECRET_URL);
      expect(out).not.toMatch(/s3cr/);
      expect(out).not.toMatch(/admin:/);
      expect(out).toContain('kurrentdb://node1:2113,node2:2113');
      expect(out).toContain('kdb://h:1');
    });

    it('maps a conflict to WrongExpectedRevisionError with the actual revision', () => {
      const exists = new WrongExpectedVersionError(undefined, {
        streamName: 'p-s',
        expected: 'no_stream',
        current: 1n,
      });
      const mapped = toEventStoreError(exists, SECRET_URL, 'append', {
        streamId: 's',
        expected: -2,
      });
      expect(mapped).toBeInstanceOf(WrongExpectedRevisionError);
      expect(mapped).toMatchObject({ streamId: 's', expected: 'no_stream', actual: 1 });
      const missing = new WrongExpectedVersionError(undefined, {
        streamName: 'p-s',
        expected: 'stream_exists',
        current: 'no_stream',
      });
      expect(
        toEventStoreError(missing, SECRET_URL, 'append', { streamId: 's', expected: -3 }),
      ).toMatchObject({
        expected: 'stream_exists',
        actual: null,
      });
      const exact = new WrongExpectedVersionError(undefined, {
        streamName: 'p-s',
        expected: 0n,
        current: 1n,
      });
      expect(
        toEventStoreError(exact, SECRET_URL, 'append', { streamId: 's', expected: 0 }),
      ).toMatchObject({ expected: 0, actual: 1 });
    });

    it('maps every other client failure to event_store_unavailable, without credentials', () => {
      const failures: unknown[] = [
        new UnavailableError(undefined, `connection to ${SECRET_URL} refused`),
        Object.assign(new Error(`deadline exceeded talking to ${SECRET_URL}`), {
          type: 'deadline-exceeded',
        }),
        Object.assign(new Error('not leader'), { type: 'not-leader' }),
        new Error(`Failed to discover after 10 attempts: ${SECRET_URL}`),
        'a string',
      ];
      for (const failure of failures) {
        const e = toEventStoreError(failure, SECRET_URL, 'read $all');
        expect(e.code).toBe(EventStoreErrorCode.Unavailable);
        expect(e.message).toMatch(/^KurrentDB could not read \$all: /);
        expect(e.message).not.toMatch(/s3cr|admin/);
        expect(e.cause).toBeUndefined();
      }
      expect(
        toEventStoreError(new UnavailableError(undefined, 'x'), SECRET_URL, 'x').message,
      ).toContain('unavailable');
    });

    it('maps an append the server finds too large to event_store_invalid_event', () => {
      const e = toEventStoreError(
        MaxAppendSizeExceededError.fromMaxAppendSize(1024),
        SECRET_URL,
        'append to stream s',
      );
      expect(e.code).toBe(EventStoreErrorCode.InvalidEvent);
    });

    it('passes the store errors through', () => {
      const own = new EventStoreError(EventStoreErrorCode.DuplicateEvent, 'dup');
      expect(toEventStoreError(own, SECRET_URL, 'x')).toBe(own);
    });
  });
});

/**
 * A small in-memory model of the KurrentDB behaviour the adapter relies on: a single log whose
 * positions are byte offsets (gaps), per-stream revisions, expected-state checks with id-based
 * idempotency, forward `$all` reads inclusive of their start with server-side filters, and
 * unrelated traffic (system and foreign events) between the store's own. It is no substitute for
 * the contract suite against a real node; it pins the adapter's own logic.
 */
class KurrentModel {
  readonly log: ModelEvent[] = [];
  readonly streams = new Map<string, ModelEvent[]>();
  next = 64n;
  appends = 0;

  constructor() {
    this.write('$epoch-information', '$epoch', {}, {});
  }

  write(
    stream: string,
    type: string,
    data: unknown,
    metadata: unknown,
    id: string = randomUUID(),
  ): ModelEvent {
    const events = this.streams.get(stream) ?? [];
    this.streams.set(stream, events);
    const e: ModelEvent = {
      position: this.next,
      streamId: stream,
      revision: BigInt(events.length),
      id,
      type,
      data: JSON.stringify(data),
      // The client reports empty metadata as undefined.
      metadata: metadata === undefined ? '' : JSON.stringify(metadata),
      created: new Date(),
    };
    this.next += BigInt(100 + e.data.length);
    events.push(e);
    this.log.push(e);
    return e;
  }

  static resolved(e: ModelEvent) {
    const p = { commit: e.position, prepare: e.position };
    const metadata = e.metadata === '' ? undefined : (JSON.parse(e.metadata) as unknown);
    const event = {
      ...e,
      isJson: true,
      data: JSON.parse(e.data) as unknown,
      metadata,
      position: p,
    };
    return { event, commitPosition: e.position };
  }

  client(): KurrentDbClient {
    return modelClient(this);
  }
}

function modelClient(model: KurrentModel): KurrentDbClient {
  const client = {
    async appendToStream(
      stream: string,
      data: EventData[],
      options: { streamState: AppendStreamState },
    ): Promise<ClientAppendResult> {
      await sleep(0);
      const events = model.streams.get(stream) ?? [];
      const state = options.streamState;
      const current = events.length === 0 ? ('no_stream' as const) : BigInt(events.length - 1);
      const recordedAt = (start: number) => data.every((d, i) => events[start + i]?.id === d.id);
      const conflict = () =>
        new WrongExpectedVersionError(undefined, {
          streamName: stream,
          expected: state,
          current,
        });
      const start =
        state === 'no_stream'
          ? 0
          : typeof state === 'bigint'
            ? Number(state) + 1
            : events.findIndex((e) => e.id === data[0]?.id);
      if (start >= 0 && events.length > 0 && recordedAt(start)) {
        return { success: true, nextExpectedRevision: BigInt(start + data.length - 1) };
      }
      if (
        (state === 'no_stream' && current !== 'no_stream') ||
        (state === 'stream_exists' && current === 'no_stream')
      )
        throw conflict();
      if (typeof state === 'bigint' && current !== state) throw conflict();
      let last: ModelEvent | undefined;
      for (const d of data) last = model.write(stream, d.type, d.data, d.metadata, d.id);
      if (++model.appends % 3 === 0)
        model.write(`foreign-${model.appends % 4}`, 'noise', { n: 1 }, { n: 1 });
      if (model.appends % 5 === 0) model.write('$stats-node', '$statsCollected', {}, {});
      return {
        success: true,
        nextExpectedRevision: last!.revision,
        position: { commit: last!.position, prepare: last!.position },
      };
    },
    readStream(
      stream: string,
      options: { fromRevision: bigint | 'end'; maxCount: number; direction: string },
    ) {
      return (async function* () {
        await sleep(0);
        const events = model.streams.get(stream);
        if (!events) throw new StreamNotFoundError(undefined, stream);
        const { fromRevision: from, maxCount: max } = options;
        const picked =
          options.direction === 'backwards'
            ? events
                .slice(0, from === 'end' ? events.length : Number(from) + 1)
                .reverse()
                .slice(0, max)
            : events.slice(Number(from), Number(from) + max);
        for (const e of picked) yield KurrentModel.resolved(e) as unknown as ResolvedEvent;
      })();
    },
    readAll(options: {
      fromPosition: 'start' | 'end' | { commit: bigint };
      maxCount: number;
      direction?: string;
      filter?: Filter;
    }) {
      return (async function* () {
        await sleep(0);
        const f = options.filter;
        const keep = (e: ModelEvent) => {
          if (!f) return true;
          const value = f.filterOn === 'streamName' ? e.streamId : e.type;
          return 'regex' in f
            ? new RegExp(f.regex).test(value)
            : f.prefixes.some((p) => value.startsWith(p));
        };
        let picked: ModelEvent[];
        if (options.direction === 'backwards') {
          picked = [...model.log].reverse().filter(keep).slice(0, options.maxCount);
        } else {
          const from =
            options.fromPosition === 'start'
              ? 0n
              : (options.fromPosition as { commit: bigint }).commit;
          if (from > 0n && !model.log.some((e) => e.position === from))
            throw new Error(`not a record boundary: ${from}`);
          picked = model.log
            .filter((e) => e.position >= from && keep(e))
            .slice(0, options.maxCount);
        }
        for (const e of picked) yield KurrentModel.resolved(e) as unknown as AllStreamResolvedEvent;
      })();
    },
    async setStreamMetadata() {
      await sleep(0);
      return { success: true, nextExpectedRevision: 0n };
    },
    async dispose() {},
  };
  return client as unknown as KurrentDbClient;
}

interface ModelEvent {
  readonly position: bigint;
  readonly streamId: string;
  readonly revision: bigint;
  readonly id: string;
  readonly type: string;
  data: string;
  readonly metadata: string;
  readonly created: Date;
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function sealed(store: EventStore, position: number): Promise<void> {
  for (let i = 0; i < 250; i++) {
    if ((await store.head()).position >= position) return;
    await sleep(20);
  }
  throw new Error(`chain did not reach ${position}`);
}

/** Links, hashes and digests: what a verifier can check without consecutive positions. */
function chainProblems(records: readonly ChainRecord[], genesis: string): string[] {
  let prev = genesis;
  const problems: string[] = [];
  for (const r of records) {
    if (r.prevHash !== prev) problems.push(`link@${r.position}`);
    if (chainHash(r.prevHash, r) !== r.hash) problems.push(`hash@${r.position}`);
    if (payloadDigest(r.dataJson) !== r.dataDigest) problems.push(`digest@${r.position}`);
    prev = r.hash;
  }
  return problems;
}

describe('kurrentdb adapter over an in-memory model of KurrentDB', () => {
  const open = (model: KurrentModel, prefix: string) =>
    openKurrentDbEventStore(model.client(), { connectionString: SECRET_URL, prefix });

  it('keeps one chain when two processes seal the same store', async () => {
    const model = new KurrentModel();
    const [a, b] = [await open(model, 'p-'), await open(model, 'p-')];
    expect(a.info.storeId).toBe(b.info.storeId);
    expect(a.info.location).toBe('kurrentdb://node1:2113,node2:2113 prefix "p-"');
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, i) =>
        (i % 2 ? a : b).append(`session-${i % 7}`, [{ type: 'peer.joined', data: { i } }]),
      ),
    );
    const last = Math.max(...results.map((r) => r.lastPosition));
    await sealed(a, last);
    const records = (await collect(a.readChain({ batchSize: 37 }))).flat();
    expect(records).toHaveLength(300);
    expect(chainProblems(records, genesisHash(a.info.storeId))).toEqual([]);
    const all = await collect(b.readAll({ batchSize: 64 }));
    expect(all.map((e) => [e.position, e.hash])).toEqual(records.map((r) => [r.position, r.hash]));
    const part = (
      await collect(b.readChain({ after: records[99]!.position, to: records[199]!.position }))
    ).flat();
    expect(part.map((r) => r.position)).toEqual(records.slice(100, 200).map((r) => r.position));
    const hashes = await a.hashesAt([0, records[7]!.position, records[299]!.position, 1]);
    expect([...hashes.keys()].sort((x, y) => x - y)).toEqual([
      0,
      records[7]!.position,
      records[299]!.position,
    ]);
    expect(hashes.get(records[299]!.position)).toBe((await b.head()).hash);
    await Promise.all([a.close(), b.close()]);
  });

  it('hands the verifier the stored content, so a changed or deleted event shows', async () => {
    const model = new KurrentModel();
    const store = await open(model, 'q-');
    let last = 0;
    for (let i = 0; i < 8; i++)
      last = (await store.append('session-1', [{ type: 'n', data: { i } }])).lastPosition;
    await sealed(store, last);
    const stream = model.streams.get('q-session-1')!;
    stream[2]!.data = JSON.stringify({ i: 'changed' });
    model.log.splice(model.log.indexOf(stream[5]!), 1);
    const records = (await collect(store.readChain())).flat();
    expect(records).toHaveLength(7);
    expect(chainProblems(records, genesisHash(store.info.storeId))).toEqual([
      `digest@${stream[2]!.position}`,
      `link@${stream[6]!.position}`,
    ]);
    await store.close();
  });

  it('reads only its own events, in pages, with filters applied', async () => {
    const model = new KurrentModel();
    const root = await open(model, '');
    const other = await open(model, 'o-');
    const store = await open(model, 'm-');
    await other.append('session-1', [{ type: 'session.opened', data: 0 }]);
    for (let i = 1; i <= 6; i++) {
      await store.append(i % 2 ? 'session-1' : 'connection-1', [
        { type: i % 3 ? 'a.happened' : 'b.happened', data: i },
      ]);
    }
    const data = async (options: Parameters<EventStore['readAll']>[0]) =>
      (await collect(store.readAll(options))).map((e) => e.data);
    expect(await data({ batchSize: 2 })).toEqual([1, 2, 3, 4, 5, 6]);
    expect(await data({ types: ['b.happened'], batchSize: 1 })).toEqual([3, 6]);
    expect(await data({ streamPrefixes: ['connection-'] })).toEqual([2, 4, 6]);
    const all = await collect(store.readAll());
    expect(await data({ after: all[0]!.position, to: all[2]!.position })).toEqual([2, 3]);
    expect(all.every((e) => /^[0-9a-f]{64}$/.test(e.hash))).toBe(true);
    // Without a prefix a store spans every prefix written to after its creation, but still skips
    // system, foreign and bookkeeping events.
    expect((await collect(root.readAll())).map((e) => e.data)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    await Promise.all([store.close(), other.close(), root.close()]);
  });

  it('refuses an id reused elsewhere, and reports a retried append as idempotent', async () => {
    const store = await open(new KurrentModel(), 'r-');
    const events = [{ id: '01890000-0000-7000-8000-000000000001', type: 'key.rotated', data: {} }];
    const first = await store.append('key-1', events, { expectedRevision: 'no_stream' });
    expect(first.idempotent).toBe(false);
    const retry = await store.append('key-1', events, { expectedRevision: 'no_stream' });
    expect(retry).toMatchObject({
      idempotent: true,
      firstPosition: first.firstPosition,
      nextExpectedRevision: 0,
    });
    await expect(store.append('key-2', events)).rejects.toMatchObject({
      code: EventStoreErrorCode.DuplicateEvent,
    });
    expect(await store.streamRevision('key-2')).toBeNull();
    await expect(
      store.append('key-1', [{ type: 'x', data: 1 }], { expectedRevision: 5 }),
    ).rejects.toMatchObject({
      code: EventStoreErrorCode.WrongExpectedRevision,
      expected: 5,
      actual: 0,
    });
    await store.close();
  });

  it('persists subscription positions of store events, never of its bookkeeping', async () => {
    const store = await open(new KurrentModel(), 's-');
    for (let i = 0; i < 5; i++)
      await store.append('session-1', [{ type: i === 1 ? 'keep' : 'skip', data: i }]);
    const seen: unknown[] = [];
    const sub = store.subscribe({
      name: 'p',
      types: ['keep'],
      handler: (e) => void seen.push(e.data),
      pollIntervalMs: 20,
    });
    await sub.caughtUp();
    await sleep(100);
    await sub.stop();
    expect(seen).toEqual([1]);
    const head = await store.head();
    expect(sub.position).toBe(head.position);
    expect(await store.subscriptionPosition('p')).toBe(head.position);
    await store.close();
  });

  it('refuses appends to reserved streams, and everything once closed', async () => {
    const store = await open(new KurrentModel(), '');
    await expect(store.append('sscontrol-chain', [{ type: 't', data: 1 }])).rejects.toMatchObject({
      code: EventStoreErrorCode.InvalidEvent,
    });
    await store.close();
    await expect(store.append('session-1', [{ type: 't', data: 1 }])).rejects.toMatchObject({
      code: EventStoreErrorCode.Closed,
    });
    await expect(store.head()).rejects.toMatchObject({ code: EventStoreErrorCode.Closed });
  });

  it('stores canonical JSON that reads back byte for byte', async () => {
    const store = await open(new KurrentModel(), 't-');
    const data = {
      z: 1,
      '10': 'ten',
      '9': 'nine',
      nested: { b: [1e21, -0.001, null], a: 'ü\u2028' },
    };
    const r = await store.append('session-1', [{ type: 't', data, metadata: { ü: 'ñ' } }]);
    const [e] = await collect(store.readStream('session-1'));
    expect(canonicalJson(e!.data)).toBe(canonicalJson(data));
    expect(e).toMatchObject({ position: r.firstPosition, metadata: { ü: 'ñ' } });
    await store.close();
  });
});
