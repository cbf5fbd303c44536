import type { RecordedEvent } from '@sscontrol/event-store';
import { AuditError, AuditErrorCode } from './audit.errors.js';
import { definitionOf, type AuditEventType, type AuditPayload } from './catalogue/catalogue.js';
import { envelopeSchema, type Envelope } from './envelope.js';

/** An audit event as read back: upcast to the latest schema, with its envelope. */
export interface AuditRecord<T extends AuditEventType = AuditEventType> {
  readonly position: number;
  readonly id: string;
  readonly type: T;
  readonly streamId: string;
  readonly revision: number;
  /** Latest schema version (what `data` is now). */
  readonly schemaVersion: number;
  /** Schema version the event was recorded with. */
  readonly recordedSchemaVersion: number;
  readonly recordedAt: Date;
  readonly occurredAt: Date;
  readonly envelope: Envelope;
  readonly data: AuditPayload<T>;
  readonly hash: string;
}

/** Lifts a stored payload to the latest version of its type, through each upcaster in turn. */
export function upcast(
  type: string,
  version: number,
  data: unknown,
): { version: number; data: unknown } {
  const def = definitionOf(type);
  if (!def)
    throw new AuditError(AuditErrorCode.UnknownEventType, `unknown audit event type ${type}`);
  let v = version;
  let d = data;
  while (v < def.version) {
    const up = def.upcasters[v];
    if (!up) {
      throw new AuditError(
        AuditErrorCode.InvalidEvent,
        `${type}: no upcaster from version ${v} to ${v + 1}`,
      );
    }
    d = up(d);
    v++;
  }
  if (v > def.version) {
    throw new AuditError(
      AuditErrorCode.InvalidEvent,
      `${type}: version ${v} is newer than this release knows (${def.version})`,
    );
  }
  return { version: v, data: d };
}

/**
 * Decodes a recorded event into an {@link AuditRecord}. Throws `audit_unknown_event_type` for
 * types outside the catalogue and `audit_invalid_event` for payloads or envelopes that do not
 * match it (which, on a verified trail, means the writer was another release or tool).
 */
export function decodeAuditEvent(event: RecordedEvent): AuditRecord {
  const def = definitionOf(event.type);
  if (!def)
    throw new AuditError(AuditErrorCode.UnknownEventType, `unknown audit event type ${event.type}`);
  const lifted = upcast(event.type, event.schemaVersion, event.data);
  const data = def.schema.safeParse(lifted.data);
  if (!data.success) {
    throw new AuditError(
      AuditErrorCode.InvalidEvent,
      `${event.type} at position ${event.position}: ${data.error.issues.map((i) => `${i.path.join('.') || 'data'}: ${i.message}`).join('; ')}`,
    );
  }
  const envelope = envelopeSchema.safeParse(event.metadata);
  if (!envelope.success) {
    throw new AuditError(
      AuditErrorCode.InvalidEvent,
      `${event.type} at position ${event.position}: malformed envelope`,
    );
  }
  return {
    position: event.position,
    id: event.id,
    type: event.type as AuditEventType,
    streamId: event.streamId,
    revision: event.revision,
    schemaVersion: lifted.version,
    recordedSchemaVersion: event.schemaVersion,
    recordedAt: event.recordedAt,
    occurredAt: new Date(envelope.data.occurredAt),
    envelope: envelope.data,
    data: data.data as AuditPayload<AuditEventType>,
    hash: event.hash,
  };
}
