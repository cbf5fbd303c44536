import { auditTrailEvents } from './audit-trail.events.js';
import { connectionEvents } from './connection.events.js';
import type { EventDefinition, PayloadOf } from './define-event.js';
import { incidentEvents } from './incident.events.js';
import { instanceEvents } from './instance.events.js';
import { jobEvents } from './job.events.js';
import { keyEvents } from './key.events.js';
import { operatorEvents } from './operator.events.js';
import { sessionEvents } from './session.events.js';

/** Every event type sscontrol records. */
export const CATALOGUE = [
  ...sessionEvents,
  ...connectionEvents,
  ...keyEvents,
  ...jobEvents,
  ...incidentEvents,
  ...operatorEvents,
  ...instanceEvents,
  ...auditTrailEvents,
] as const;

type Definitions = (typeof CATALOGUE)[number];

/** Every audit event type name. */
export type AuditEventType = Definitions['type'];

/** Payload (latest version) of an audit event type. */
export type AuditPayload<T extends AuditEventType> = PayloadOf<Extract<Definitions, { type: T }>>;

const byType = new Map<string, EventDefinition>(
  CATALOGUE.map((d) => [d.type, d as unknown as EventDefinition]),
);

/** The definition of a type, or undefined. */
export function definitionOf(type: string): EventDefinition | undefined {
  return byType.get(type);
}
