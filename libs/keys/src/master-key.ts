import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
  type KeyObject,
  createSecretKey,
} from 'node:crypto';
import { KeysError, KeysErrorCode } from './keys.errors.js';

const SEALED_PREFIX = 'v1';

/**
 * The master key (SSCONTROL_MASTER_KEY): 32 random bytes. Secret material in the key store is
 * sealed with AES-256-GCM under a key derived from it (HKDF-SHA256), with the key's id and kind
 * as associated data so that a sealed secret cannot be moved to another record. Operator API keys
 * are stored as HMAC-SHA256 under a second derived key, so a stolen store does not let anyone
 * test guesses offline without the master key.
 */
export class MasterKey {
  readonly #encryption: Buffer;
  readonly #hashing: KeyObject;
  /** Identifies the master key (not secret: derived one-way). Stored in the ring to detect a wrong key. */
  readonly fingerprint: string;

  private constructor(raw: Buffer) {
    const derive = (info: string) => Buffer.from(hkdfSync('sha256', raw, 'sscontrol', info, 32));
    this.#encryption = derive('keyring-seal-v1');
    this.#hashing = createSecretKey(derive('api-key-hash-v1'));
    this.fingerprint = createHash('sha256')
      .update(derive('master-key-fingerprint-v1'))
      .digest('hex')
      .slice(0, 32);
  }

  /** Parses 32 bytes given as base64 / base64url (43–44 characters) or hex (64 characters). */
  static parse(text: string): MasterKey {
    const t = text.trim();
    let raw: Buffer | null = null;
    if (/^[0-9a-fA-F]{64}$/.test(t)) raw = Buffer.from(t, 'hex');
    else if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(t)) raw = Buffer.from(t, 'base64');
    if (!raw || raw.length !== 32) {
      throw new KeysError(
        KeysErrorCode.MasterKeyInvalid,
        'the master key must be 32 random bytes as base64 (44 characters) or hex (64 characters); generate one with `openssl rand -base64 32`',
      );
    }
    return new MasterKey(raw);
  }

  /** A new random master key, base64. */
  static generate(): string {
    return randomBytes(32).toString('base64');
  }

  /** Encrypts `plaintext` bound to `aad` (the record's id and kind). */
  seal(plaintext: Buffer, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#encryption, iv);
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return [
      SEALED_PREFIX,
      iv.toString('base64url'),
      ct.toString('base64url'),
      cipher.getAuthTag().toString('base64url'),
    ].join('.');
  }

  /** Decrypts what {@link seal} produced; throws `key_store_corrupt` if it was altered or moved. */
  open(sealed: string, aad: string): Buffer {
    const parts = sealed.split('.');
    if (parts.length !== 4 || parts[0] !== SEALED_PREFIX) {
      throw new KeysError(KeysErrorCode.KeyStoreCorrupt, `sealed secret of ${aad} is malformed`);
    }
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        this.#encryption,
        Buffer.from(parts[1]!, 'base64url'),
      );
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(Buffer.from(parts[3]!, 'base64url'));
      return Buffer.concat([
        decipher.update(Buffer.from(parts[2]!, 'base64url')),
        decipher.final(),
      ]);
    } catch {
      throw new KeysError(
        KeysErrorCode.KeyStoreCorrupt,
        `sealed secret of ${aad} does not decrypt: altered, moved, or sealed under another master key`,
      );
    }
  }

  /** Keyed hash of an operator API key's secret part (hex). */
  hashApiSecret(secret: string): string {
    return createHmac('sha256', this.#hashing).update(secret, 'utf8').digest('hex');
  }
}
