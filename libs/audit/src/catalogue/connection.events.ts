import { z } from 'zod';
import { defineEvent } from './define-event.js';
import { fingerprint, id, ip, role } from './fields.js';

const stream = (d: { connectionId: string }) => `connection-${d.connectionId}`;

/** A client authenticated on the gateway. */
export const ConnectionOpened = defineEvent({
  type: 'connection.opened',
  version: 1,
  schema: z.strictObject({
    connectionId: id,
    subject: id,
    role,
    ip,
    userAgent: z.string().max(512).optional(),
    origin: z.string().max(300).optional(),
    tokenId: id,
    /** Signing key of the client token. */
    keyId: id,
    keyFingerprint: fingerprint,
    instance: id,
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({
    connectionId: d.connectionId,
    subject: d.subject,
    tokenId: d.tokenId,
    keyId: d.keyId,
    ip: d.ip,
  }),
});

export const connectionRejectionReasons = [
  'token_missing',
  'token_invalid',
  'token_expired',
  'token_revoked',
  'key_revoked',
  'origin_forbidden',
  'ip_banned',
  'rate_limited',
  'too_many_connections',
  'lockdown',
  'audit_unavailable',
] as const;

/** A connection attempt was refused before it authenticated. */
export const ConnectionRejected = defineEvent({
  type: 'connection.rejected',
  version: 1,
  schema: z.strictObject({
    connectionId: id,
    ip,
    reason: z.enum(connectionRejectionReasons),
    subject: id.optional(),
    tokenId: id.optional(),
    keyId: id.optional(),
    userAgent: z.string().max(512).optional(),
    origin: z.string().max(300).optional(),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({
    connectionId: d.connectionId,
    ip: d.ip,
    ...(d.subject ? { subject: d.subject } : {}),
    ...(d.tokenId ? { tokenId: d.tokenId } : {}),
    ...(d.keyId ? { keyId: d.keyId } : {}),
  }),
});

/** A client came back within the grace window with its resume token. */
export const ConnectionResumed = defineEvent({
  type: 'connection.resumed',
  version: 1,
  schema: z.strictObject({
    connectionId: id,
    previousConnectionId: id,
    subject: id,
    ip,
    redelivered: z.int().min(0),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ connectionId: d.connectionId, subject: d.subject, ip: d.ip }),
});

export const ConnectionClosed = defineEvent({
  type: 'connection.closed',
  version: 1,
  schema: z.strictObject({
    connectionId: id,
    code: z.int().min(1000).max(4999),
    reason: z.string().max(123),
    durationMs: z.int().min(0),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ connectionId: d.connectionId }),
});

/** A client hit a limit (message rate, frame size, connection rate or count). */
export const ConnectionLimitHit = defineEvent({
  type: 'connection.limitHit',
  version: 1,
  schema: z.strictObject({
    connectionId: id,
    ip,
    limit: z.enum(['message_rate', 'frame_size', 'connection_rate', 'concurrent_connections']),
  }),
  upcasters: {},
  stream,
  subjects: (d) => ({ connectionId: d.connectionId, ip: d.ip }),
});

export const connectionEvents = [
  ConnectionOpened,
  ConnectionRejected,
  ConnectionResumed,
  ConnectionClosed,
  ConnectionLimitHit,
] as const;
