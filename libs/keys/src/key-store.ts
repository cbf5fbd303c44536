import { KeysError, KeysErrorCode } from './keys.errors.js';
import { ringDocumentSchema, type RingDocument } from './key-record.js';

/** What an {@link KeyStore.update} callback returns: the next document (or null: no change). */
export interface RingUpdate<T> {
  readonly next: RingDocument | null;
  readonly result: T;
}

/**
 * Where the key ring lives: a file under the data dir (embedded), Redis or PostgreSQL (several
 * instances). The ring is one small document (tens of keys) written with compare-and-set under a
 * cross-process lock, so two operators rotating at once serialise instead of losing a write.
 */
export interface KeyStore {
  readonly backend: 'file' | 'redis' | 'postgres';
  /** The stored ring, validated; null when none was written yet. */
  read(): Promise<RingDocument | null>;
  /**
   * Runs `fn` holding the store's exclusive lock (across processes and hosts) with the current
   * document, then writes `next` (whose version must be current + 1) unless it is null.
   * Throws `key_store_busy` when the lock cannot be had within 10 s.
   */
  update<T>(fn: (current: RingDocument | null) => Promise<RingUpdate<T>>): Promise<T>;
  /**
   * Calls `listener` soon (well under a second) after any process wrote the ring. Returns a
   * function that stops watching. Listeners must re-read; a call may be spurious.
   */
  watch(listener: () => void): () => void;
  close(): Promise<void>;
}

/** Parses and validates a stored ring document. */
export function parseRingDocument(text: string, where: string): RingDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KeysError(KeysErrorCode.KeyStoreCorrupt, `${where}: not JSON`);
  }
  const parsed = ringDocumentSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new KeysError(
      KeysErrorCode.KeyStoreCorrupt,
      `${where}: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid'}`,
    );
  }
  return parsed.data;
}

/** Checks the version step of a write. */
export function assertNextVersion(current: RingDocument | null, next: RingDocument): void {
  const expected = (current?.version ?? 0) + 1;
  if (next.version !== expected) {
    throw new KeysError(
      KeysErrorCode.KeyStoreCorrupt,
      `ring write must have version ${expected}, got ${next.version}`,
    );
  }
}

/**
 * The listeners of a store's `watch`: each call gets its own entry (watching twice with one
 * function needs two unsubscribes); the store's watching machinery runs while any is registered.
 */
export class ChangeListeners {
  private readonly listeners = new Set<() => void>();
  /** Ring version last seen (-1: none yet since watching started; 0: no document). */
  private seen: number | string = -1;

  constructor(
    private readonly start: () => void,
    private readonly stop: () => void,
  ) {}

  add(listener: () => void): () => void {
    const entry = () => listener();
    if (this.listeners.size === 0) {
      this.seen = -1;
      this.start();
    }
    this.listeners.add(entry);
    return () => {
      if (this.listeners.delete(entry) && this.listeners.size === 0) this.stop();
    };
  }

  /** A store's change message (the new version as text): listeners hear of it unless already seen. */
  announced(payload: string): void {
    const version = Number(payload);
    if (Number.isInteger(version) && version === this.seen) return;
    if (Number.isInteger(version)) this.seen = version;
    this.notify();
  }

  /** The version a poll found: listeners hear of a change; the first poll only records it. */
  observed(version: number | string): void {
    if (this.listeners.size === 0) return;
    const before = this.seen;
    this.seen = version;
    if (before !== -1 && before !== version) this.notify();
  }

  /** Tells every listener; one listener's failure is its own, the others still hear of it. */
  notify(): void {
    for (const listener of [...this.listeners]) {
      try {
        listener();
      } catch {
        // ignored: see above
      }
    }
  }

  clear(): void {
    if (this.listeners.size > 0) this.stop();
    this.listeners.clear();
  }
}
