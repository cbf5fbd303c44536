import { z } from 'zod';

/** The kinds of secret sscontrol holds. */
export const KEY_KINDS = [
  'client-token',
  'turn-secret',
  'operator-api',
  'audit-checkpoint',
  'redis-password',
] as const;
export type KeyKind = (typeof KEY_KINDS)[number];
export const keyKindSchema = z.enum(KEY_KINDS);

/** Operator roles of the control API. */
export const OPERATOR_ROLES = ['admin', 'operator', 'auditor', 'issuer'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/**
 * Status of a key at an instant. `active`: used to sign or mint. `retiring`: replaced, still
 * accepted until its grace ends. `retired`: grace over, no longer accepted. `revoked`: cut off.
 */
export type KeyStatus = 'active' | 'retiring' | 'retired' | 'revoked';

const iso = z.iso.datetime({ offset: false });

/** One key as the store holds it (secret material sealed, or hashed for operator API keys). */
export const keyRecordSchema = z.strictObject({
  id: z.string().regex(/^[a-z-]+_[0-9a-z]{10,40}$/),
  kind: keyKindSchema,
  createdAt: iso,
  activatedAt: iso,
  /** When its grace ends (set when it is replaced); it stops verifying at that instant. */
  retireAt: iso.nullable(),
  /** Set by the lifecycle sweeper once the key's retirement has been applied and recorded. */
  retiredAt: iso.nullable(),
  revokedAt: iso.nullable(),
  /** SHA-256 based, 32 hex: what events and logs show. */
  fingerprint: z.string().regex(/^[0-9a-f]{32}$/),
  /** AES-256-GCM sealed material (`v1.iv.ct.tag`), or null where the store holds no material. */
  sealed: z.string().nullable(),
  /** Operator API keys: keyed hash of the secret part (the secret is shown once, never stored). */
  secretHash: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .nullable(),
  /** Operator API keys: display name and role. Redis password: the ACL user. */
  label: z.string().max(100).nullable(),
  role: z.enum(OPERATOR_ROLES).nullable(),
  /** The key this one replaced (rotation chain). */
  replaces: z.string().nullable(),
});
export type KeyRecord = z.infer<typeof keyRecordSchema>;

/** The whole ring, stored as one document with a version for compare-and-set. */
export const ringDocumentSchema = z.strictObject({
  format: z.literal(1),
  /** Incremented by every write. */
  version: z.int().min(1),
  /** Fingerprint of the master key the secrets are sealed under. */
  masterKey: z.string().regex(/^[0-9a-f]{32}$/),
  updatedAt: iso,
  keys: z.array(keyRecordSchema),
  /** Revoked client-token ids until the tokens' own expiry (then pruned). */
  revokedTokens: z.array(z.strictObject({ tokenId: z.string().min(1).max(200), expiresAt: iso })),
});
export type RingDocument = z.infer<typeof ringDocumentSchema>;

/** Status of `key` at `nowMs`, from its times alone (so no timer is needed to stop a key). */
export function statusAt(key: KeyRecord, nowMs: number): KeyStatus {
  if (key.revokedAt !== null) return 'revoked';
  if (key.retiredAt !== null) return 'retired';
  if (key.retireAt !== null) return Date.parse(key.retireAt) <= nowMs ? 'retired' : 'retiring';
  return 'active';
}

/** The public view of a key: everything but its material. */
export interface KeyInfo {
  readonly id: string;
  readonly kind: KeyKind;
  readonly status: KeyStatus;
  readonly fingerprint: string;
  readonly createdAt: string;
  readonly activatedAt: string;
  readonly retireAt: string | null;
  readonly retiredAt: string | null;
  readonly revokedAt: string | null;
  readonly label: string | null;
  readonly role: OperatorRole | null;
  readonly replaces: string | null;
}

export function keyInfo(key: KeyRecord, nowMs: number): KeyInfo {
  return {
    id: key.id,
    kind: key.kind,
    status: statusAt(key, nowMs),
    fingerprint: key.fingerprint,
    createdAt: key.createdAt,
    activatedAt: key.activatedAt,
    retireAt: key.retireAt,
    retiredAt: key.retiredAt,
    revokedAt: key.revokedAt,
    label: key.label,
    role: key.role,
    replaces: key.replaces,
  };
}
