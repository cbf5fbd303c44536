import { createHash, randomBytes } from 'node:crypto';
import type { KeyKind } from './key-record.js';

const PREFIX: Record<KeyKind, string> = {
  'client-token': 'ct',
  'turn-secret': 'ts',
  'operator-api': 'op',
  'audit-checkpoint': 'ac',
  'redis-password': 'rp',
};
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A new key id: kind prefix and 16 random base32 characters, e.g. `ct_k3x9…`. */
export function newKeyId(kind: KeyKind): string {
  const bytes = randomBytes(16);
  let s = '';
  for (let i = 0; i < 16; i++) s += BASE32[bytes[i]! & 31];
  return `${PREFIX[kind]}_${s}`;
}

/**
 * Fresh secret material of a kind. Client-token keys are 32 raw bytes (an HS256 key); the TURN
 * secret and the Redis password are 43-character base64url strings (they travel in config files
 * and protocols that expect text).
 */
export function newMaterial(kind: 'client-token' | 'turn-secret' | 'redis-password'): Buffer {
  const raw = randomBytes(32);
  return kind === 'client-token' ? raw : Buffer.from(raw.toString('base64url'), 'utf8');
}

/** Fingerprint shown in events and logs: 32 hex of a domain-separated SHA-256; never reversible. */
export function fingerprintOf(kind: KeyKind, material: Buffer | string): string {
  return createHash('sha256')
    .update(`sscontrol-key-fingerprint-v1\0${kind}\0`)
    .update(material)
    .digest('hex')
    .slice(0, 32);
}
