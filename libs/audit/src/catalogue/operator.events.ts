import { z } from 'zod';
import { defineEvent } from './define-event.js';
import { id, ip } from './fields.js';

const stream = (d: { operatorId: string }) => `operator-${d.operatorId}`;
/** Parameters of an action as given, minus secrets (flags, ids, durations). */
const parameters = z.record(
  z.string().max(64),
  z.union([z.string().max(500), z.number(), z.boolean(), z.null()]),
);

/** An operator (API key or CLI user) performed an action through the control API or the CLI. */
export const OperatorActionPerformed = defineEvent({
  type: 'operator.actionPerformed',
  version: 1,
  schema: z.strictObject({
    operatorId: id,
    /** `<area>.<verb>`, e.g. `keys.rotate`, `incident.lockdown`, `audit.export`. */
    action: z.string().regex(/^[a-z][a-z-]*\.[a-z][a-zA-Z-]*$/),
    target: z.string().max(300).optional(),
    outcome: z.enum(['succeeded', 'failed']),
    requestId: id,
    parameters: parameters.optional(),
    error: z.string().max(1000).optional(),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ subject: d.operatorId }),
});

/** An operator request was refused: bad or revoked API key, or a role without the permission. */
export const OperatorAccessDenied = defineEvent({
  type: 'operator.accessDenied',
  version: 1,
  schema: z.strictObject({
    operatorId: id,
    action: z.string().max(100),
    reason: z.enum(['key_invalid', 'key_revoked', 'key_expired', 'forbidden']),
    ip,
    requestId: id,
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ subject: d.operatorId, ip: d.ip }),
});

export const operatorEvents = [OperatorActionPerformed, OperatorAccessDenied] as const;
