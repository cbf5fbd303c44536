import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import {
  KeysErrorCode,
  type KeyRecord,
  type KeyStore,
  type RingDocument,
  type RingUpdate,
} from '@sscontrol/keys';

/**
 * Two stores over the same storage (`second` stands in for another process), a way to put any text
 * where the document is stored, bypassing the store, and the cleanup.
 */
export type KeyStoreFactory = () => Promise<{
  store: KeyStore;
  second: KeyStore;
  /** Stores `text` as the document (valid JSON: the suite corrupts the document's shape only). */
  writeRaw(text: string): Promise<void>;
  cleanup(): Promise<void>;
}>;

/** A sealed-looking secret unique to this run, to look for in error messages. */
function sealedSecret(): string {
  const b64 = (n: number) => randomBytes(n).toString('base64url');
  return `v1.${b64(12)}.${b64(32)}.${b64(16)}`;
}

/** A valid key record of the ring (test data). */
export function testKeyRecord(overrides: Partial<KeyRecord> = {}): KeyRecord {
  const now = new Date().toISOString();
  return {
    id: `client-token_${randomBytes(8).toString('hex')}`,
    kind: 'client-token',
    createdAt: now,
    activatedAt: now,
    retireAt: null,
    retiredAt: null,
    revokedAt: null,
    fingerprint: randomBytes(16).toString('hex'),
    sealed: sealedSecret(),
    secretHash: null,
    label: null,
    role: null,
    replaces: null,
    ...overrides,
  };
}

/** A valid ring document (test data): one client-token key with sealed material. */
export function testRingDocument(version: number, overrides: Partial<RingDocument> = {}) {
  const doc: RingDocument = {
    format: 1,
    version,
    masterKey: '0123456789abcdef0123456789abcdef',
    updatedAt: new Date().toISOString(),
    keys: [testKeyRecord()],
    revokedTokens: [],
    ...overrides,
  };
  return doc;
}

/** The next version of `doc` (or the first document), as an update callback writes it. */
function successor(doc: RingDocument | null, change: Partial<RingDocument> = {}): RingDocument {
  return doc
    ? { ...doc, ...change, version: doc.version + 1, updatedAt: new Date().toISOString() }
    : testRingDocument(1, change);
}

const write =
  (change: Partial<RingDocument> = {}) =>
  async (current: RingDocument | null): Promise<RingUpdate<number>> => {
    const next = successor(current, change);
    return { next, result: next.version };
  };

async function rejection(promise: Promise<unknown>): Promise<Error & { code?: unknown }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: unknown };
  }
  throw new Error('expected a rejection');
}

/** Resolves when `predicate` holds, polling every 5 ms; rejects after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Everything an error could show a log: message, stack, own properties, causes. */
function everythingShown(error: unknown): string {
  return `${String(error)}\n${inspect(error, { depth: null, showHidden: true })}\n${JSON.stringify(error)}`;
}

/**
 * The key store contract: every backend's integration test calls this with a factory and passes.
 * It talks to the real backend. The lock test waits out the 10 s lock timeout once.
 */
export function describeKeyStoreContract(name: string, factory: KeyStoreFactory): void {
  describe(`key store contract: ${name}`, () => {
    let store: KeyStore;
    let second: KeyStore;
    let writeRaw: (text: string) => Promise<void>;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, second, writeRaw, cleanup } = await factory());
    });
    afterEach(async () => {
      await store.close();
      await second.close();
      await cleanup();
    });

    it('reads null when nothing was written', async () => {
      expect(await store.read()).toBeNull();
      expect(await second.read()).toBeNull();
    });

    it('writes version 1, which both instances read back', async () => {
      const doc = testRingDocument(1);
      const result = await store.update(async (current) => {
        expect(current).toBeNull();
        return { next: doc, result: 'written' };
      });
      expect(result).toBe('written');
      expect(await store.read()).toEqual(doc);
      expect(await second.read()).toEqual(doc);
      expect(await second.update(async (current) => ({ next: null, result: current }))).toEqual(
        doc,
      );
    });

    it('refuses a write whose version is not current + 1, writing nothing', async () => {
      await expect(
        store.update(async () => ({ next: testRingDocument(2), result: null })),
      ).rejects.toMatchObject({ code: KeysErrorCode.KeyStoreCorrupt });
      expect(await store.read()).toBeNull();
      await store.update(write());
      for (const version of [1, 3]) {
        await expect(
          second.update(async (current) => ({
            next: { ...successor(current), version },
            result: null,
          })),
        ).rejects.toMatchObject({ code: KeysErrorCode.KeyStoreCorrupt });
      }
      expect((await second.read())?.version).toBe(1);
    });

    it('writes nothing when the callback throws, and releases the lock', async () => {
      const failure = new Error('callback failed');
      await expect(
        store.update(async () => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await store.read()).toBeNull();
      const started = Date.now();
      expect(await second.update(write())).toBe(1);
      // Released, not waited out (the lock timeout is 10 s).
      expect(Date.now() - started).toBeLessThan(2_000);
    });

    it('writes nothing when the callback returns next = null, and returns its result', async () => {
      await store.update(write());
      const before = await store.read();
      expect(await second.update(async () => ({ next: null, result: 42 }))).toBe(42);
      expect(await store.read()).toEqual(before);
    });

    it('serialises concurrent updates from two instances: none is lost', async () => {
      const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
      const updates = Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? store : second).update(async (current) => {
          // A read-modify-write with a pause inside: without mutual exclusion, writes get lost.
          await sleep(2);
          const revokedTokens = [
            ...(current?.revokedTokens ?? []),
            { tokenId: `t-${i}`, expiresAt },
          ];
          const next = successor(current, { revokedTokens });
          return { next, result: next.version };
        }),
      );
      const versions = await Promise.all(updates);
      expect([...versions].sort((a, b) => a - b)).toEqual(
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const doc = await second.read();
      expect(doc?.version).toBe(20);
      expect(doc?.revokedTokens.map((t) => t.tokenId).sort()).toEqual(
        Array.from({ length: 20 }, (_, i) => `t-${i}`).sort(),
      );
    });

    it("tells a watcher of another instance's write within 1 s, until unsubscribed", async () => {
      let calls = 0;
      const stop = second.watch(() => (calls += 1));
      try {
        // The watcher connects asynchronously; a first write, waited for, shows it is set up.
        await sleep(200);
        await store.update(write());
        await until(() => calls > 0, 5_000, 'the first change');
        const latencies: number[] = [];
        for (let i = 0; i < 3; i++) {
          await sleep(100);
          const before = calls;
          await store.update(write());
          const written = Date.now();
          await until(() => calls > before, 5_000, 'a change');
          latencies.push(Date.now() - written);
        }
        expect(Math.max(...latencies)).toBeLessThan(1_000);
      } finally {
        stop();
      }
      const after = calls;
      await store.update(write());
      // Longer than any backend's fallback poll (2 s).
      await sleep(2_500);
      expect(calls).toBe(after);
    });

    it('reports a corrupt stored document as key_store_corrupt, without calling the callback', async () => {
      await writeRaw(JSON.stringify({ ...testRingDocument(1), masterKey: 'not-a-fingerprint' }));
      for (const s of [store, second]) {
        await expect(s.read()).rejects.toMatchObject({ code: KeysErrorCode.KeyStoreCorrupt });
      }
      let called = false;
      await expect(
        store.update(async (current) => {
          called = true;
          return write()(current);
        }),
      ).rejects.toMatchObject({ code: KeysErrorCode.KeyStoreCorrupt });
      expect(called).toBe(false);
      // The lock was released: a repair (here, replacing the document) is not blocked.
      await writeRaw(JSON.stringify(testRingDocument(1)));
      expect(await store.update(write())).toBe(2);
    });

    it("never shows the document's sealed secrets in an error", async () => {
      const doc = testRingDocument(1, {
        keys: [
          testKeyRecord(),
          testKeyRecord({ kind: 'turn-secret', id: 'turn-secret_0a1b2c3d4e' }),
        ],
      });
      const secrets = doc.keys.map((k) => k.sealed!);
      await store.update(async () => ({ next: doc, result: null }));
      const errors = [
        await rejection(
          store.update(async (current) => ({
            next: { ...successor(current), version: 7 },
            result: null,
          })),
        ),
      ];
      const broken = [
        { ...doc, keys: doc.keys.map((k) => ({ ...k, fingerprint: k.sealed })) },
        { ...doc, keys: doc.keys.map((k) => ({ ...k, sealed: [k.sealed] })) },
        { ...doc, version: doc.keys[0]!.sealed },
      ];
      for (const raw of broken) {
        await writeRaw(JSON.stringify(raw));
        errors.push(await rejection(second.read()), await rejection(second.update(write())));
      }
      for (const error of errors) {
        expect(error).toBeInstanceOf(Error);
        expect(error.code).toBe(KeysErrorCode.KeyStoreCorrupt);
        const shown = everythingShown(error);
        for (const secret of secrets) expect(shown).not.toContain(secret);
      }
    });

    it('gives up with key_store_busy after 10 s while another instance holds the lock', async () => {
      let release = () => {};
      const held = new Promise<void>((resolve) => (release = resolve));
      let entered = () => {};
      const inside = new Promise<void>((resolve) => (entered = resolve));
      const holder = store.update(async (current) => {
        entered();
        await held;
        return write()(current);
      });
      await inside;
      const started = Date.now();
      const error = await rejection(second.update(write()));
      release();
      const waited = Date.now() - started;
      expect(error.code).toBe(KeysErrorCode.KeyStoreBusy);
      expect(waited).toBeGreaterThanOrEqual(9_000);
      expect(waited).toBeLessThan(15_000);
      // The holder kept its lock throughout and its write went through.
      expect(await holder).toBe(1);
      expect((await second.read())?.version).toBe(1);
    }, 30_000);
  });
}
