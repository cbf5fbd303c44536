import { z } from 'zod';
import { defineEvent } from './define-event.js';
import { fingerprint, id, isoTime, keyKind, reason } from './fields.js';

const stream = (d: { keyId: string }) => `key-${d.keyId}`;
const keyRef = z.strictObject({ keyId: id, fingerprint });

export const KeyCreated = defineEvent({
  type: 'key.created',
  version: 1,
  schema: z.strictObject({
    keyId: id,
    kind: keyKind,
    fingerprint,
    activatesAt: isoTime.optional(),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ keyId: d.keyId }),
});

export const KeyActivated = defineEvent({
  type: 'key.activated',
  version: 1,
  schema: z.strictObject({ keyId: id, kind: keyKind, fingerprint }),
  upcasters: {},
  stream,
  subjects: (d) => ({ keyId: d.keyId }),
});

/**
 * A key of a kind was replaced. v2 names both keys with their fingerprints and the grace in
 * milliseconds; v1 named key ids only, with the grace in seconds.
 */
export const KeyRotated = defineEvent({
  type: 'key.rotated',
  version: 2,
  schema: z.strictObject({
    kind: keyKind,
    previous: keyRef.nullable(),
    next: keyRef,
    graceMs: z.int().min(0),
    immediate: z.boolean(),
    reason: reason.optional(),
  }),
  upcasters: {
    1: (v1) => {
      const d = v1 as {
        kind: string;
        oldKeyId: string | null;
        newKeyId: string;
        graceSeconds: number;
        reason?: string;
      };
      // v1 did not record fingerprints; the key id stands in, padded to the fingerprint format.
      const ref = (keyId: string) => ({ keyId, fingerprint: fingerprintOf(keyId) });
      return {
        kind: d.kind,
        previous: d.oldKeyId ? ref(d.oldKeyId) : null,
        next: ref(d.newKeyId),
        graceMs: d.graceSeconds * 1000,
        immediate: d.graceSeconds === 0,
        ...(d.reason ? { reason: d.reason } : {}),
      };
    },
  },
  stream: (d) => `key-${d.next.keyId}`,
  subjects: (d) => ({ keyId: d.next.keyId }),
});

/** v1 key ids were `<kind>-<16 hex of the fingerprint>`: recover the short fingerprint. */
function fingerprintOf(keyId: string): string {
  const m = /([0-9a-f]{16,64})$/.exec(keyId);
  return m ? m[1]! : '0'.repeat(16);
}

export const KeyRetired = defineEvent({
  type: 'key.retired',
  version: 1,
  schema: z.strictObject({ keyId: id, kind: keyKind, fingerprint }),
  upcasters: {},
  stream,
  subjects: (d) => ({ keyId: d.keyId }),
});

/**
 * A key was cut off before its time. v2 drops v1's `disconnected` count: each gateway records
 * the connections it closes as `connection.closed` (reason `key_revoked`), which is where the
 * count can be true.
 */
export const KeyRevoked = defineEvent({
  type: 'key.revoked',
  version: 2,
  schema: z.strictObject({
    keyId: id,
    kind: keyKind,
    fingerprint,
    reason: reason.optional(),
  }),
  upcasters: {
    1: (v1) => {
      const { disconnected: _dropped, ...rest } = v1 as { disconnected?: number };
      return rest;
    },
  },
  stream,
  subjects: (d) => ({ keyId: d.keyId }),
});

export const TokenRevoked = defineEvent({
  type: 'token.revoked',
  version: 1,
  schema: z.strictObject({
    tokenId: id,
    subject: id.optional(),
    expiresAt: isoTime,
    reason: reason.optional(),
  }),
  upcasters: {},
  stream: (d) => `token-${d.tokenId}`,
  subjects: (d) => ({ tokenId: d.tokenId, ...(d.subject ? { subject: d.subject } : {}) }),
});

export const keyEvents = [
  KeyCreated,
  KeyActivated,
  KeyRotated,
  KeyRetired,
  KeyRevoked,
  TokenRevoked,
] as const;
