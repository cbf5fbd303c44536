import { randomBytes, timingSafeEqual } from 'node:crypto';
import { KeysError, KeysErrorCode } from './keys.errors.js';
import type { OperatorRole } from './key-record.js';
import type { Keyring } from './keyring.js';

/** Prefix of every operator API key, so secret scanners can recognise a leaked one. */
export const API_KEY_PREFIX = 'ssc_';
const FORMAT = /^ssc_(op_[a-z2-7]{16})\.([A-Za-z0-9_-]{43})$/;

/** An authenticated operator. */
export interface ApiKeyIdentity {
  readonly keyId: string;
  readonly role: OperatorRole;
  readonly label: string | null;
  readonly fingerprint: string;
}

/** A new API key's secret part. */
export function newApiKeySecret(): string {
  return randomBytes(32).toString('base64url');
}

/** The presented form of an API key. */
export function formatApiKey(keyId: string, secret: string): string {
  return `${API_KEY_PREFIX}${keyId}.${secret}`;
}

/** The key id of something that looks like an API key (for audit of failures), else null. */
export function apiKeyIdOf(presented: string): string | null {
  return FORMAT.exec(presented)?.[1] ?? null;
}

/**
 * Authenticates an operator API key (`ssc_<key id>.<secret>`): the secret's keyed hash is
 * compared in constant time with the stored one; an unknown id costs the same hash so that
 * timing does not tell which ids exist.
 */
export function authenticateApiKey(keyring: Keyring, presented: string): ApiKeyIdentity {
  const m = FORMAT.exec(presented);
  if (!m) throw new KeysError(KeysErrorCode.ApiKeyInvalid, 'not an sscontrol API key');
  const [, keyId, secret] = m as unknown as [string, string, string];
  const record = keyring.get(keyId);
  const presentedHash = Buffer.from(keyring.masterKey.hashApiSecret(secret), 'hex');
  const storedHash =
    record?.kind === 'operator-api' && record.secretHash
      ? Buffer.from(record.secretHash, 'hex')
      : Buffer.alloc(32);
  const matches = timingSafeEqual(presentedHash, storedHash);
  if (!record || record.kind !== 'operator-api' || !record.role || !matches) {
    throw new KeysError(KeysErrorCode.ApiKeyInvalid, 'unknown API key');
  }
  const status = keyring.statusOf(keyId);
  if (status === 'revoked') throw new KeysError(KeysErrorCode.ApiKeyRevoked, 'API key revoked');
  if (status === 'retired') {
    throw new KeysError(KeysErrorCode.ApiKeyExpired, 'API key replaced and past its grace period');
  }
  return { keyId, role: record.role, label: record.label, fingerprint: record.fingerprint };
}
