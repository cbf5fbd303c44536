import { z } from 'zod';
import { defineEvent } from './define-event.js';
import { id, ipOrCidr, isoTime, reason } from './fields.js';

const stream = (d: { incidentId: string }) => `incident-${d.incidentId}`;

export const IncidentOpened = defineEvent({
  type: 'incident.opened',
  version: 1,
  schema: z.strictObject({
    incidentId: id,
    title: z.string().min(1).max(300),
    severity: z.enum(['low', 'medium', 'high', 'critical']),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ incidentId: d.incidentId }),
});

/** `incident contain` ran the breach-response steps; each step is listed with its outcome. */
export const IncidentContained = defineEvent({
  type: 'incident.contained',
  version: 1,
  schema: z.strictObject({
    incidentId: id,
    steps: z
      .array(
        z.strictObject({
          step: z.string().max(100),
          outcome: z.enum(['done', 'failed', 'skipped']),
          detail: z.string().max(500).optional(),
        }),
      )
      .max(50),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ incidentId: d.incidentId }),
});

export const IncidentClosed = defineEvent({
  type: 'incident.closed',
  version: 1,
  schema: z.strictObject({ incidentId: id, resolution: z.string().min(1).max(2000) }),
  upcasters: {},
  stream,
  subjects: (d) => ({ incidentId: d.incidentId }),
});

/** The gateway refuses new connections and sessions cluster-wide. */
export const LockdownEnabled = defineEvent({
  type: 'lockdown.enabled',
  version: 1,
  schema: z.strictObject({
    dropExisting: z.boolean(),
    reason: reason.optional(),
    incidentId: id.optional(),
  }),
  upcasters: {},
  stream: () => 'lockdown-cluster',
  subjects: (d) => (d.incidentId ? { incidentId: d.incidentId } : {}),
});

export const LockdownDisabled = defineEvent({
  type: 'lockdown.disabled',
  version: 1,
  schema: z.strictObject({ reason: reason.optional(), incidentId: id.optional() }),
  upcasters: {},
  stream: () => 'lockdown-cluster',
  subjects: (d) => (d.incidentId ? { incidentId: d.incidentId } : {}),
});

const banStream = (d: { target: string }) => `ban-${d.target.replace('/', '_')}`;

export const BanAdded = defineEvent({
  type: 'ban.added',
  version: 1,
  schema: z.strictObject({
    target: ipOrCidr,
    reason: reason.optional(),
    expiresAt: isoTime.nullable(),
  }),
  upcasters: {},
  stream: banStream,
  subjects: (d) => ({ ip: d.target }),
});

export const BanRemoved = defineEvent({
  type: 'ban.removed',
  version: 1,
  schema: z.strictObject({ target: ipOrCidr, reason: reason.optional() }),
  upcasters: {},
  stream: banStream,
  subjects: (d) => ({ ip: d.target }),
});

export const incidentEvents = [
  IncidentOpened,
  IncidentContained,
  IncidentClosed,
  LockdownEnabled,
  LockdownDisabled,
  BanAdded,
  BanRemoved,
] as const;
