import {
  BACKWARDS,
  END,
  FORWARDS,
  streamNameFilter,
  type AppendResult as ClientAppendResult,
  type AppendStreamState,
  type EventData,
  type Filter,
  type KurrentDBClient,
} from '@kurrent/kurrentdb-client';
import { EventStoreError, EventStoreErrorCode } from '../event-store.errors.js';
import {
  clientErrorType,
  internalStreams,
  positionToNumber,
  storeStreamsRegex,
  toEventStoreError,
  toReadPosition,
  toStoredEvent,
  type ClientEvent,
  type InternalStreams,
  type StoredEvent,
} from './kurrentdb-mapping.js';

/** The client calls the adapter makes; a `KurrentDBClient` has them. */
export type KurrentDbClient = Pick<
  KurrentDBClient,
  'appendToStream' | 'readStream' | 'readAll' | 'setStreamMetadata' | 'dispose'
>;

/** One page of this store's events from `$all`. */
export interface ScanPage {
  /** Accepted events, in `$all` order. */
  readonly events: readonly StoredEvent[];
  /** True when the scan reached the end of the log (or `to`) rather than the page limit. */
  readonly end: boolean;
}

/**
 * The adapter's access to KurrentDB: every read and append goes through here, so failures are
 * mapped (with credentials stripped) in one place. Reads require the leader: an acknowledged
 * append must be visible to the next read, which a lagging follower does not guarantee.
 */
export class KurrentDbLog {
  readonly streams: InternalStreams;
  /** Server-side filter of `$all` that keeps this store's logical streams only. */
  readonly baseFilter: Filter;

  constructor(
    readonly client: KurrentDbClient,
    readonly prefix: string,
    private readonly connectionString: string,
  ) {
    this.streams = internalStreams(prefix);
    this.baseFilter = streamNameFilter({ regex: storeStreamsRegex(prefix) });
  }

  /** The KurrentDB stream of a logical stream. */
  stream(streamId: string): string {
    return `${this.prefix}${streamId}`;
  }

  fail(
    error: unknown,
    what: string,
    conflict?: { streamId: string; expected: number },
  ): EventStoreError {
    return toEventStoreError(error, this.connectionString, what, conflict);
  }

  /** Appends; the caller maps failures (it knows the logical stream and expectation). */
  append(
    stream: string,
    events: EventData[],
    streamState: AppendStreamState,
  ): Promise<ClientAppendResult> {
    return this.client.appendToStream(stream, events, { streamState });
  }

  /**
   * Reads up to `count` events of a stream from `fromRevision` (`'end'` with `backwards`), or
   * returns null when the stream does not exist.
   */
  async readStream(
    stream: string,
    fromRevision: number | 'end',
    count: number,
    backwards = false,
  ): Promise<ClientEvent[] | null> {
    const out: ClientEvent[] = [];
    try {
      const read = this.client.readStream(stream, {
        fromRevision: fromRevision === 'end' ? END : BigInt(fromRevision),
        maxCount: count,
        direction: backwards ? BACKWARDS : FORWARDS,
        requiresLeader: true,
      });
      for await (const resolved of read) if (resolved.event) out.push(resolved.event);
    } catch (error) {
      const type = clientErrorType(error);
      if (type === 'stream-not-found' || type === 'stream-deleted' || type === 'stream-tombstoned')
        return null;
      throw this.fail(error, `read stream ${stream}`);
    }
    return out;
  }

  /** The last event of a stream, or null. */
  async lastEvent(stream: string): Promise<ClientEvent | null> {
    const events = await this.readStream(stream, 'end', 1, true);
    return events?.[0] ?? null;
  }

  /**
   * A page of a stream: this store's events in it (others are skipped), how many events were
   * read, and the revision to read next. Null when the stream does not exist.
   */
  async storeEvents(
    streamId: string,
    fromRevision: number,
    count: number,
  ): Promise<{ events: StoredEvent[]; read: number; next: number } | null> {
    const raw = await this.readStream(this.stream(streamId), fromRevision, count);
    if (raw === null) return null;
    const events: StoredEvent[] = [];
    for (const e of raw) {
      if (e.isJson && !e.position) {
        throw new EventStoreError(
          EventStoreErrorCode.Misconfigured,
          'KurrentDB returned events without their log position: the server is older than 22.6',
        );
      }
      const stored = toStoredEvent(this.prefix, e);
      if (stored) events.push(stored);
    }
    const last = raw[raw.length - 1];
    return { events, read: raw.length, next: last ? Number(last.revision) + 1 : fromRevision };
  }

  /** Position of the last event in `$all`, whatever its stream, or 0. */
  async endPosition(): Promise<number> {
    try {
      const read = this.client.readAll({
        fromPosition: END,
        direction: BACKWARDS,
        maxCount: 1,
        requiresLeader: true,
      });
      for await (const resolved of read) {
        if (resolved.event) return positionToNumber(resolved.event.position);
      }
    } catch (error) {
      throw this.fail(error, 'read the end of $all');
    }
    return 0;
  }

  /** A raw forward page of `$all` from `from` (inclusive; 0 is the start). */
  private async allPage(
    from: number,
    filter: Filter,
    count: number,
  ): Promise<{ events: StoredEvent[]; last: number | null; full: boolean }> {
    const events: StoredEvent[] = [];
    let read = 0;
    let last: number | null = null;
    try {
      const page = this.client.readAll({
        fromPosition: toReadPosition(from),
        maxCount: count,
        filter,
        requiresLeader: true,
      });
      for await (const resolved of page) {
        read++;
        const e = resolved.event;
        if (!e) continue;
        last = positionToNumber(e.position);
        const stored = toStoredEvent(this.prefix, e);
        if (stored) events.push(stored);
      }
    } catch (error) {
      throw this.fail(error, 'read $all');
    }
    return { events, last, full: read >= count };
  }

  /**
   * Up to `limit` events of this store after `after` (exclusive) and at most `to`, that pass
   * `accept`, in `$all` order. Pages with `maxCount`, so a large log is never held at once.
   */
  async scan(
    after: number,
    filter: Filter,
    accept: (event: StoredEvent) => boolean,
    limit: number,
    to: number = Number.MAX_SAFE_INTEGER,
  ): Promise<ScanPage> {
    const events: StoredEvent[] = [];
    let floor = after;
    for (;;) {
      // Forward reads include their start: one more than needed, since the first may be `floor`.
      const page = await this.allPage(floor, filter, limit - events.length + 1);
      for (const e of page.events) {
        if (e.position <= floor) continue;
        if (e.position > to) return { events, end: true };
        if (accept(e)) {
          events.push(e);
          if (events.length === limit) return { events, end: false };
        }
      }
      if (!page.full || page.last === null || page.last >= to) return { events, end: true };
      floor = Math.max(floor, page.last);
    }
  }
}
