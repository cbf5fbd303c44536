import { z } from 'zod';

/** Who caused an event. */
export const actorSchema = z.strictObject({
  type: z.enum(['system', 'operator', 'device', 'user', 'service']),
  /** Operator key id, device or user subject, or the service name. */
  id: z.string().min(1).max(200),
  /** Client address, when the actor came over the network. */
  ip: z.string().max(64).optional(),
  /** Fingerprint of the key or token the actor authenticated with (never the key). */
  keyFingerprint: z
    .string()
    .regex(/^[0-9a-f]{16,64}$/)
    .optional(),
});
export type Actor = z.infer<typeof actorSchema>;

/** The process that recorded an event. */
export const sourceSchema = z.strictObject({
  service: z.enum(['signaling', 'control', 'cli']),
  instance: z.string().min(1).max(64),
  version: z.string().min(1).max(64),
});
export type Source = z.infer<typeof sourceSchema>;

/**
 * Ids of what an event is about, beyond its own stream: the audit queries ("who used this key",
 * "what did this IP touch") select on them without knowing every payload schema.
 */
export const subjectsSchema = z.strictObject({
  sessionId: z.string().max(200).optional(),
  peerId: z.string().max(200).optional(),
  connectionId: z.string().max(200).optional(),
  subject: z.string().max(200).optional(),
  keyId: z.string().max(200).optional(),
  tokenId: z.string().max(200).optional(),
  jobId: z.string().max(200).optional(),
  incidentId: z.string().max(200).optional(),
  ip: z.string().max(64).optional(),
});
export type Subjects = z.infer<typeof subjectsSchema>;

const hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`));

/**
 * The common envelope, stored as the event's metadata (and so covered by the hash chain). The
 * event id (UUIDv7), type, schema version and recording time are the store's own fields.
 */
export const envelopeSchema = z.strictObject({
  occurredAt: z.iso.datetime({ offset: false }),
  actor: actorSchema,
  source: sourceSchema,
  subjects: subjectsSchema,
  /** W3C trace id and span id of the operation that recorded the event. */
  traceId: hex(32).optional(),
  spanId: hex(16).optional(),
  /** Groups the events of one request or operation. */
  correlationId: z.string().min(1).max(200).optional(),
  /** The event or command that caused this one. */
  causationId: z.string().min(1).max(200).optional(),
  /** Open incident the action was taken under. */
  incidentId: z.string().min(1).max(200).optional(),
});
export type Envelope = z.infer<typeof envelopeSchema>;
