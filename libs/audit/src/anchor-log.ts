import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { checkpointSchema, type Checkpoint } from './catalogue/audit-trail.events.js';
import type { CheckpointPublicKey } from './checkpoint-keys.js';

/** What an anchor file held, including lines that could not be read. */
export interface AnchorContents<T> {
  readonly entries: T[];
  /** 1-based line numbers that are not valid entries (a torn last line after a crash, or tampering). */
  readonly badLines: number[];
}

function appendLine(file: string, line: string): void {
  const created = !existsSync(file);
  const fd = openSync(file, 'a', 0o644);
  try {
    writeSync(fd, `${line}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  if (created) {
    const dir = openSync(path.dirname(file), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  }
}

function readLines<T>(file: string, parse: (value: unknown) => T | null): AnchorContents<T> {
  if (!existsSync(file)) return { entries: [], badLines: [] };
  const entries: T[] = [];
  const badLines: number[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        const value = parse(JSON.parse(line));
        if (value === null) badLines.push(i + 1);
        else entries.push(value);
      } catch {
        badLines.push(i + 1);
      }
    });
  return { entries, badLines };
}

/**
 * Copies of the signed checkpoints and checkpoint public keys kept outside the event store
 * (AUDIT_ANCHOR_DIR: in production a different volume, a WORM bucket mount or a SIEM feed).
 * Truncating the store, or restoring an old copy of it, leaves checkpoints here that the store
 * no longer has: `audit verify` reports that as `truncated`.
 */
export class AnchorLog {
  constructor(
    readonly dir: string,
    private readonly storeId: string,
  ) {}

  get checkpointsFile(): string {
    return path.join(this.dir, `checkpoints-${this.storeId}.jsonl`);
  }

  get keysFile(): string {
    return path.join(this.dir, `checkpoint-keys-${this.storeId}.jsonl`);
  }

  appendCheckpoint(checkpoint: Checkpoint): void {
    mkdirSync(this.dir, { recursive: true });
    appendLine(this.checkpointsFile, JSON.stringify(checkpoint));
  }

  appendKey(key: CheckpointPublicKey): void {
    mkdirSync(this.dir, { recursive: true });
    appendLine(this.keysFile, JSON.stringify({ ...key, addedAt: new Date().toISOString() }));
  }

  checkpoints(): AnchorContents<Checkpoint> {
    return readLines(this.checkpointsFile, (v) => {
      const r = checkpointSchema.safeParse(v);
      return r.success ? r.data : null;
    });
  }

  keys(): AnchorContents<CheckpointPublicKey> {
    return readLines(this.keysFile, (v) => {
      const k = v as Partial<CheckpointPublicKey>;
      return typeof k.keyId === 'string' &&
        typeof k.publicKey === 'string' &&
        typeof k.fingerprint === 'string'
        ? {
            keyId: k.keyId,
            fingerprint: k.fingerprint,
            publicKey: k.publicKey,
            endorsedBy: k.endorsedBy ?? null,
            endorsement: k.endorsement ?? null,
          }
        : null;
    });
  }
}
