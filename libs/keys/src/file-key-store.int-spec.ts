import { utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describeKeyStoreContract, tempDir, testRingDocument } from '@sscontrol/testing';
import { FileKeyStore } from './file-key-store.js';

describeKeyStoreContract('file', async () => {
  const dir = tempDir('sscontrol-keyring-');
  const file = path.join(dir.path, 'keyring.json');
  return {
    store: new FileKeyStore({ file }),
    second: new FileKeyStore({ file }),
    writeRaw: async (text) => writeFileSync(file, text),
    cleanup: async () => dir.remove(),
  };
});

describe('FileKeyStore', () => {
  it('takes over a lock file older than staleLockMs (its holder died)', async () => {
    const dir = tempDir('sscontrol-keyring-');
    try {
      const file = path.join(dir.path, 'keyring.json');
      const lock = `${file}.lock`;
      writeFileSync(lock, '999999 2020-01-01T00:00:00.000Z\n');
      const old = new Date(Date.now() - 5_000);
      utimesSync(lock, old, old);
      const store = new FileKeyStore({ file, staleLockMs: 2_000 });
      const started = Date.now();
      await store.update(async () => ({ next: testRingDocument(1), result: null }));
      expect(Date.now() - started).toBeLessThan(1_000);
      expect((await store.read())?.version).toBe(1);
    } finally {
      dir.remove();
    }
  });

  it('waits for a lock file younger than staleLockMs', async () => {
    const dir = tempDir('sscontrol-keyring-');
    try {
      const file = path.join(dir.path, 'keyring.json');
      writeFileSync(`${file}.lock`, '999999 2020-01-01T00:00:00.000Z\n');
      const store = new FileKeyStore({ file, staleLockMs: 1_000 });
      const started = Date.now();
      await store.update(async () => ({ next: testRingDocument(1), result: null }));
      // Taken over only once it became stale.
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
      expect((await store.read())?.version).toBe(1);
    } finally {
      dir.remove();
    }
  });
});
