import { randomBytes } from 'node:crypto';
import {
  ConnectionOpened,
  envelopeSchema,
  type AuditPayload,
  type Envelope,
} from '@sscontrol/audit';
import { canonicalJson, uuidv7 } from '@sscontrol/event-store';

/** One audit event as every contender appends it: the same fields, the same bytes. */
export interface BenchEvent {
  /** `connection-<connectionId>`: every append opens a new stream, as connections do. */
  readonly streamId: string;
  /** UUIDv7 event id. */
  readonly id: string;
  readonly type: 'connection.opened';
  readonly data: AuditPayload<'connection.opened'>;
  /** The audit envelope, stored as the event's metadata. */
  readonly metadata: Envelope;
}

// Fixed per process so that trace ids look like real ones (random) without a random draw per event.
const TRACE_PREFIX = randomBytes(12).toString('hex');
const SPAN_PREFIX = randomBytes(4).toString('hex');

/**
 * The `seq`-th benchmark event: a `connection.opened` payload (ip, userAgent, subject, token and
 * key ids) with the envelope the audit recorder would add (occurredAt, actor, source, traceId,
 * spanId, correlationId; subjects left empty). Fields have fixed widths, so every event has about
 * the same size (see {@link eventBytes}); ids are fresh UUIDv7s.
 */
export function auditEvent(seq: number): BenchEvent {
  const connectionId = uuidv7();
  const n = (seq >>> 0).toString(16).padStart(8, '0');
  const ip = `203.0.113.${(seq % 254) + 1}`;
  const subject = `device-${n}`;
  return {
    streamId: `connection-${connectionId}`,
    id: uuidv7(),
    type: 'connection.opened',
    data: {
      connectionId,
      subject,
      role: 'host',
      ip,
      userAgent: 'sscontrol-agent/2.4.1 (Windows NT 10.0; Win64; x64)',
      tokenId: `tok-${n}`,
      keyId: 'ck-2025-01',
      keyFingerprint: '9f86d081884c7d65',
      instance: 'signaling-1',
    },
    metadata: {
      occurredAt: new Date().toISOString(),
      actor: { type: 'device', id: subject, ip },
      source: { service: 'signaling', instance: 'signaling-1', version: '0.1.0' },
      // The recorder would copy connectionId/subject/ip here too (~90 bytes); left out to stay near
      // the ~500 bytes of a typical event (the payload already names them).
      subjects: {},
      traceId: `${TRACE_PREFIX}${n}`,
      spanId: `${SPAN_PREFIX}${n}`,
      correlationId: `req-${n}`,
    },
  };
}

/** Bytes of the event's payload and metadata as canonical JSON (what the stores keep). */
export function eventBytes(event: BenchEvent): { data: number; metadata: number; total: number } {
  const data = Buffer.byteLength(canonicalJson(event.data));
  const metadata = Buffer.byteLength(canonicalJson(event.metadata));
  return { data, metadata, total: data + metadata };
}

/** Throws unless the event is a valid `connection.opened` with a valid envelope. */
export function checkAuditEvent(event: BenchEvent): void {
  ConnectionOpened.schema.parse(event.data);
  envelopeSchema.parse(event.metadata);
}
