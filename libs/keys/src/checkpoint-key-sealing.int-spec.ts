import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { AuditErrorCode, CheckpointKeys } from '@sscontrol/audit';
import { tempDir } from '@sscontrol/testing';
import { MasterKey } from './master-key.js';

/** Audit checkpoint signing keys are secret material too: sealed under the master key on disk. */
describe('checkpoint keys sealed under the master key', () => {
  let dir: ReturnType<typeof tempDir>;
  const master = MasterKey.parse(MasterKey.generate());

  beforeEach(() => {
    dir = tempDir();
  });
  afterEach(() => dir.remove());

  const keyFiles = () =>
    readdirSync(dir.path)
      .filter((f) => f.startsWith('checkpoint-ck-'))
      .map((f) => readFileSync(path.join(dir.path, f), 'utf8'));

  it('writes no private key in the clear, and signs with it after a restart', () => {
    const keys = new CheckpointKeys(dir.path, 'store-1', master);
    const first = keys.active();
    keys.rotate();
    for (const text of keyFiles()) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(JSON.parse(text)).toHaveProperty('privateKeySealed');
    }
    const again = new CheckpointKeys(dir.path, 'store-1', master);
    expect(again.active().keyId).not.toBe(first.keyId);
    expect(again.active().privateKey).toContain('-----BEGIN PRIVATE KEY-----');
  });

  it('refuses to sign without the master key, or with another one', () => {
    new CheckpointKeys(dir.path, 'store-1', master).active();
    expect(() => new CheckpointKeys(dir.path, 'store-1').active()).toThrow(
      expect.objectContaining({ code: AuditErrorCode.NoSigningKey }),
    );
    const other = MasterKey.parse(MasterKey.generate());
    expect(() => new CheckpointKeys(dir.path, 'store-1', other).active()).toThrow(
      expect.objectContaining({ code: AuditErrorCode.KeyStoreCorrupt }),
    );
  });

  it('seals a key written in the clear (before keys were sealed) the first time it is read', () => {
    const plain = new CheckpointKeys(dir.path, 'store-1').active();
    expect(keyFiles().join()).toContain('PRIVATE KEY');
    const sealed = new CheckpointKeys(dir.path, 'store-1', master).active();
    expect(sealed.keyId).toBe(plain.keyId);
    expect(sealed.privateKey).toBe(plain.privateKey);
    expect(keyFiles().join()).not.toContain('PRIVATE KEY');
    // A file altered to carry both forms is refused as corrupt.
    const file = readdirSync(dir.path).find((f) => f.startsWith('checkpoint-ck-'))!;
    const doc = JSON.parse(readFileSync(path.join(dir.path, file), 'utf8')) as Record<
      string,
      unknown
    >;
    writeFileSync(
      path.join(dir.path, file),
      JSON.stringify({ ...doc, privateKey: plain.privateKey }),
    );
    expect(() => new CheckpointKeys(dir.path, 'store-1', master).active()).toThrow(
      expect.objectContaining({ code: AuditErrorCode.KeyStoreCorrupt }),
    );
  });
});
