import { z } from 'zod';

/** An id of something sscontrol names: a session, peer, connection, key, token, job, incident. */
export const id = z.string().min(1).max(200);
/** SHA-256 (hex, possibly shortened to 16+ characters) of a public key or secret: never the secret. */
export const fingerprint = z.string().regex(/^[0-9a-f]{16,64}$/);
/** An IPv4 or IPv6 address. */
export const ip = z.union([z.ipv4(), z.ipv6()]);
/** An IPv4 or IPv6 address or CIDR range. */
export const ipOrCidr = z.union([z.ipv4(), z.ipv6(), z.cidrv4(), z.cidrv6()]);
export const role = z.enum(['host', 'controller']);
export const isoTime = z.iso.datetime({ offset: false });
export const keyKind = z.enum([
  'client-token',
  'turn-secret',
  'operator-api',
  'audit-checkpoint',
  'redis-password',
]);
/** A short human-readable reason; free text, bounded. */
export const reason = z.string().min(1).max(500);
