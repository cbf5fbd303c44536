import { randomBytes } from 'node:crypto';
import { KeysErrorCode } from './keys.errors.js';
import { MasterKey } from './master-key.js';

describe('MasterKey', () => {
  const raw = randomBytes(32);

  it('accepts 32 bytes as base64, base64url or hex, and they are the same key', () => {
    const a = MasterKey.parse(raw.toString('base64'));
    const b = MasterKey.parse(raw.toString('base64url'));
    const c = MasterKey.parse(raw.toString('hex'));
    expect(a.fingerprint).toBe(b.fingerprint);
    expect(a.fingerprint).toBe(c.fingerprint);
    expect(a.fingerprint).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses anything else with master_key_invalid, without echoing the value', () => {
    for (const bad of [
      '',
      'short',
      randomBytes(16).toString('base64'),
      randomBytes(33).toString('hex'),
    ]) {
      try {
        MasterKey.parse(bad);
        throw new Error('accepted');
      } catch (error) {
        expect((error as { code?: string }).code).toBe(KeysErrorCode.MasterKeyInvalid);
        if (bad) expect((error as Error).message).not.toContain(bad);
      }
    }
  });

  it('seals with AES-256-GCM: round trip, fresh IV each time, bound to its record', () => {
    const key = MasterKey.parse(raw.toString('base64'));
    const secret = randomBytes(32);
    const a = key.seal(secret, 'client-token/ct_1');
    const b = key.seal(secret, 'client-token/ct_1');
    expect(a).not.toBe(b);
    expect(a).not.toContain(secret.toString('base64url'));
    expect(key.open(a, 'client-token/ct_1').equals(secret)).toBe(true);
    // Moved to another record, altered, or opened under another master key: refused.
    expect(() => key.open(a, 'client-token/ct_2')).toThrow(
      expect.objectContaining({ code: KeysErrorCode.KeyStoreCorrupt }),
    );
    const parts = a.split('.');
    const ct = Buffer.from(parts[2]!, 'base64url');
    ct[0] = ct[0]! ^ 1;
    parts[2] = ct.toString('base64url');
    expect(() => key.open(parts.join('.'), 'client-token/ct_1')).toThrow(
      expect.objectContaining({ code: KeysErrorCode.KeyStoreCorrupt }),
    );
    const other = MasterKey.parse(randomBytes(32).toString('base64'));
    expect(() => other.open(a, 'client-token/ct_1')).toThrow(
      expect.objectContaining({ code: KeysErrorCode.KeyStoreCorrupt }),
    );
  });

  it('hashes API key secrets with a key derived from the master key', () => {
    const a = MasterKey.parse(raw.toString('base64'));
    const b = MasterKey.parse(randomBytes(32).toString('base64'));
    expect(a.hashApiSecret('s')).toMatch(/^[0-9a-f]{64}$/);
    expect(a.hashApiSecret('s')).toBe(a.hashApiSecret('s'));
    expect(a.hashApiSecret('s')).not.toBe(b.hashApiSecret('s'));
  });
});
