import { z } from 'zod';
import { defineEvent } from './define-event.js';
import { id, ip } from './fields.js';

/** Role the operator acted with; `local` is the CLI on the host (file-system access to the store). */
export const operatorRole = z.enum(['admin', 'operator', 'auditor', 'issuer', 'local', 'unknown']);

const stream = (d: { operatorId: string }) => `operator-${d.operatorId}`;
/** Parameters of an action as given, minus secrets (flags, ids, durations). */
const parameters = z.record(
  z.string().max(64),
  z.union([z.string().max(500), z.number(), z.boolean(), z.null()]),
);

/**
 * An operator (API key or CLI user) performed an action through the control API or the CLI.
 * v2 adds the role the operator acted with (v1 events did not record it: `unknown`).
 */
export const OperatorActionPerformed = defineEvent({
  type: 'operator.actionPerformed',
  version: 2,
  schema: z.strictObject({
    operatorId: id,
    role: operatorRole,
    /** `<area>.<verb>`, e.g. `keys.rotate`, `incident.lockdown`, `audit.export`. */
    action: z.string().regex(/^[a-z][a-z-]*\.[a-z][a-zA-Z-]*$/),
    target: z.string().max(300).optional(),
    outcome: z.enum(['succeeded', 'failed']),
    requestId: id,
    parameters: parameters.optional(),
    error: z.string().max(1000).optional(),
  }),
  upcasters: { 1: (v1) => ({ ...(v1 as object), role: 'unknown' }) },
  stream,
  subjects: (d) => ({ subject: d.operatorId }),
});

/**
 * An operator request was refused: no, bad or revoked API key, a role without the permission, or
 * an address throttled after repeated authentication failures. v2 adds the role (null when the
 * key was not recognised) and the reasons `key_missing` and `throttled`.
 */
export const OperatorAccessDenied = defineEvent({
  type: 'operator.accessDenied',
  version: 2,
  schema: z.strictObject({
    operatorId: id,
    role: operatorRole.nullable(),
    action: z.string().max(100),
    reason: z.enum([
      'key_missing',
      'key_invalid',
      'key_revoked',
      'key_expired',
      'forbidden',
      'throttled',
    ]),
    ip,
    requestId: id,
  }),
  upcasters: { 1: (v1) => ({ ...(v1 as object), role: null }) },
  stream,
  subjects: (d) => ({ subject: d.operatorId, ip: d.ip }),
});

export const operatorEvents = [OperatorActionPerformed, OperatorAccessDenied] as const;
