import { z } from 'zod';
import { defineEvent } from './define-event.js';
import { fingerprint, id, isoTime, reason } from './fields.js';

const hash = z.string().regex(/^[0-9a-f]{64}$/);
const signature = z
  .string()
  .regex(/^[A-Za-z0-9+/]+=*$/)
  .max(200);

/** A signed checkpoint: seals the order of the events in [fromPosition, toPosition]. */
export const checkpointSchema = z.strictObject({
  v: z.literal(1),
  storeId: z.uuid(),
  seq: z.int().min(1),
  fromPosition: z.int().min(1),
  toPosition: z.int().min(1),
  /** Events in the range (differs from the position span only across authorised gaps). */
  count: z.int().min(1),
  /** Chain hash of the event at toPosition. */
  headHash: hash,
  /** Chain hashes at every 1000th position in the range, to localise a rewritten suffix. */
  anchors: z.array(z.tuple([z.int().min(1), hash])).max(10_000),
  /** Signature of the previous checkpoint (null for the first), as CloudTrail digests chain. */
  prevSignature: signature.nullable(),
  keyId: id,
  signedAt: isoTime,
  /** Ed25519 over the canonical JSON of every other field. */
  signature,
});
export type Checkpoint = z.infer<typeof checkpointSchema>;

export const AuditCheckpointed = defineEvent({
  type: 'audit.checkpointed',
  version: 1,
  schema: checkpointSchema,
  upcasters: {},
  stream: () => 'audit-checkpoints',
  subjects: (d) => ({ keyId: d.keyId }),
});

/**
 * A checkpoint signing key came into use. After the first, each key is endorsed by its
 * predecessor, so trust in the first key (given out of band) extends to its successors.
 */
export const AuditCheckpointKeyAdded = defineEvent({
  type: 'audit.checkpointKeyAdded',
  version: 1,
  schema: z.strictObject({
    keyId: id,
    fingerprint,
    /** Ed25519 public key, SPKI PEM. */
    publicKey: z.string().startsWith('-----BEGIN PUBLIC KEY-----').max(1000),
    endorsedBy: id.nullable(),
    /** Signature by `endorsedBy` over the canonical JSON of { storeId, keyId, publicKey }. */
    endorsement: signature.nullable(),
  }),
  upcasters: {},
  stream: () => 'audit-keys',
  subjects: (d) => ({ keyId: d.keyId }),
});

/** `sscontrol audit verify` ran. */
export const AuditVerified = defineEvent({
  type: 'audit.verified',
  version: 1,
  schema: z.strictObject({
    fromPosition: z.int().min(0),
    toPosition: z.int().min(0),
    checked: z.int().min(0),
    checkpoints: z.int().min(0),
    ok: z.boolean(),
    failureClass: z.string().max(40).optional(),
    failurePosition: z.int().min(0).optional(),
  }),
  upcasters: {},
  stream: () => 'audit-verifications',
  subjects: () => ({}),
});

/** Old events were removed under a retention policy; `verify` reports the gap as authorised. */
export const AuditRetentionApplied = defineEvent({
  type: 'audit.retentionApplied',
  version: 1,
  schema: z.strictObject({
    fromPosition: z.int().min(1),
    toPosition: z.int().min(1),
    count: z.int().min(1),
    /** Hash of the last removed event: the chain resumes from it. */
    lastHash: hash,
    olderThan: isoTime,
    reason: reason.optional(),
  }),
  upcasters: {},
  stream: () => 'audit-retention',
  subjects: () => ({}),
});

/** An event's payload was redacted (its digest stays in the chain). */
export const AuditRedacted = defineEvent({
  type: 'audit.redacted',
  version: 1,
  schema: z.strictObject({ position: z.int().min(1), eventId: z.uuid(), dataDigest: hash, reason }),
  upcasters: {},
  stream: () => 'audit-redactions',
  subjects: () => ({}),
});

export const auditTrailEvents = [
  AuditCheckpointed,
  AuditCheckpointKeyAdded,
  AuditVerified,
  AuditRetentionApplied,
  AuditRedacted,
] as const;
