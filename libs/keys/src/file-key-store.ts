import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KeysError, KeysErrorCode } from './keys.errors.js';
import {
  assertNextVersion,
  parseRingDocument,
  type KeyStore,
  type RingUpdate,
} from './key-store.js';
import type { RingDocument } from './key-record.js';

/** Options of {@link FileKeyStore}. */
export interface FileKeyStoreOptions {
  /** The ring file, e.g. `<data>/keyring.json` (mode 0600; its directory 0700). */
  readonly file: string;
  /** How often other processes' writes are looked for. Default 200 ms. */
  readonly pollMs?: number;
  /** A lock older than this is taken over (its holder died). Default 30 s. */
  readonly staleLockMs?: number;
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException).code;
}

/**
 * The embedded key store: one JSON file, replaced atomically (temp file, fsync, rename, fsync of
 * the directory) under a lock file created with O_EXCL. Processes on the host see each other's
 * writes by polling the file's identity (a stat every 200 ms costs nothing).
 */
export class FileKeyStore implements KeyStore {
  readonly backend = 'file' as const;
  private readonly lockFile: string;

  constructor(private readonly options: FileKeyStoreOptions) {
    this.lockFile = `${options.file}.lock`;
    mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o700 });
  }

  // async: a corrupt file must reject the promise, not throw at the call
  async read(): Promise<RingDocument | null> {
    return this.readSync();
  }

  private readSync(): RingDocument | null {
    let text: string;
    try {
      text = readFileSync(this.options.file, 'utf8');
    } catch (error) {
      if (errno(error) === 'ENOENT') return null;
      throw new KeysError(
        KeysErrorCode.KeyStoreUnavailable,
        `cannot read ${this.options.file}: ${errno(error) ?? 'error'}`,
      );
    }
    return parseRingDocument(text, this.options.file);
  }

  async update<T>(fn: (current: RingDocument | null) => Promise<RingUpdate<T>>): Promise<T> {
    await this.lock();
    try {
      const current = this.readSync();
      const { next, result } = await fn(current);
      if (next) {
        assertNextVersion(current, next);
        this.writeSync(next);
      }
      return result;
    } finally {
      try {
        unlinkSync(this.lockFile);
      } catch {
        // already taken over as stale: nothing to release
      }
    }
  }

  private async lock(): Promise<void> {
    const staleMs = this.options.staleLockMs ?? 30_000;
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        const fd = openSync(this.lockFile, 'wx', 0o600);
        writeSync(fd, `${process.pid} ${new Date().toISOString()}\n`);
        closeSync(fd);
        return;
      } catch (error) {
        if (errno(error) !== 'EEXIST') {
          throw new KeysError(
            KeysErrorCode.KeyStoreUnavailable,
            `cannot create ${this.lockFile}: ${errno(error) ?? 'error'}`,
          );
        }
      }
      try {
        if (Date.now() - statSync(this.lockFile).mtimeMs > staleMs) unlinkSync(this.lockFile);
      } catch {
        // released meanwhile
      }
      if (Date.now() > deadline) {
        throw new KeysError(
          KeysErrorCode.KeyStoreBusy,
          `the key store is locked by another process (${this.lockFile}); try again`,
        );
      }
      await sleep(20);
    }
  }

  private writeSync(doc: RingDocument): void {
    const tmp = `${this.options.file}.${process.pid}.tmp`;
    try {
      const fd = openSync(tmp, 'w', 0o600);
      try {
        writeSync(fd, `${JSON.stringify(doc, null, 2)}\n`);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.options.file);
      const dir = openSync(path.dirname(this.options.file), 'r');
      try {
        fsyncSync(dir);
      } finally {
        closeSync(dir);
      }
    } catch (error) {
      throw new KeysError(
        KeysErrorCode.KeyStoreUnavailable,
        `cannot write ${this.options.file}: ${errno(error) ?? (error as Error).message}`,
      );
    }
  }

  watch(listener: () => void): () => void {
    const identity = () => {
      try {
        const s = statSync(this.options.file);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    };
    let last = identity();
    const timer = setInterval(() => {
      const now = identity();
      if (now !== last) {
        last = now;
        listener();
      }
    }, this.options.pollMs ?? 200);
    timer.unref();
    return () => clearInterval(timer);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
