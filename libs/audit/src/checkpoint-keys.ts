import { generateKeyPairSync } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AuditError, AuditErrorCode } from './audit.errors.js';
import {
  checkpointKeyId,
  endorsementPayload,
  publicKeyFingerprint,
  signBytes,
} from './checkpoint-signature.js';

/** A checkpoint signing key as the trail publishes it (public parts only). */
export interface CheckpointPublicKey {
  readonly keyId: string;
  readonly fingerprint: string;
  readonly publicKey: string;
  readonly endorsedBy: string | null;
  readonly endorsement: string | null;
}

const keyFileSchema = z.strictObject({
  keyId: z.string(),
  createdAt: z.string(),
  privateKey: z.string().startsWith('-----BEGIN PRIVATE KEY-----'),
  publicKey: z.string().startsWith('-----BEGIN PUBLIC KEY-----'),
  endorsedBy: z.string().nullable(),
  endorsement: z.string().nullable(),
});
type KeyFile = z.infer<typeof keyFileSchema>;

function writeDurably(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  const dir = openSync(path.dirname(file), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/**
 * The Ed25519 keys that sign audit checkpoints, as files under AUDIT_KEYS_DIR (mode 0600, one
 * per key, plus `checkpoint-active` naming the one in use). The first key is created on first
 * use; each later key is endorsed by its predecessor's signature so that verifiers who trust the
 * first key trust the chain of keys.
 */
export class CheckpointKeys {
  constructor(
    private readonly dir: string,
    private readonly storeId: string,
  ) {}

  private keyPath(keyId: string): string {
    return path.join(this.dir, `checkpoint-${keyId}.json`);
  }

  private get activePath(): string {
    return path.join(this.dir, `checkpoint-active-${this.storeId}`);
  }

  private read(keyId: string): KeyFile {
    try {
      return keyFileSchema.parse(JSON.parse(readFileSync(this.keyPath(keyId), 'utf8')));
    } catch (error) {
      throw new AuditError(
        AuditErrorCode.KeyStoreCorrupt,
        `checkpoint key ${keyId} is unreadable: ${(error as Error).message}`,
      );
    }
  }

  private generate(previous: KeyFile | null): KeyFile {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const keyId = checkpointKeyId(publicPem);
    return {
      keyId,
      createdAt: new Date().toISOString(),
      privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      publicKey: publicPem,
      endorsedBy: previous?.keyId ?? null,
      endorsement: previous
        ? signBytes(previous.privateKey, endorsementPayload(this.storeId, keyId, publicPem))
        : null,
    };
  }

  /** The key in use, creating the first one when there is none (safe against concurrent processes). */
  active(): { keyId: string; privateKey: string; public: CheckpointPublicKey } {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (!existsSync(this.activePath)) {
      const first = this.generate(null);
      writeDurably(this.keyPath(first.keyId), JSON.stringify(first), 0o600);
      try {
        // O_EXCL: when two processes start at once, one key wins and the other is never used.
        const fd = openSync(this.activePath, 'wx', 0o600);
        writeSync(fd, first.keyId);
        fsyncSync(fd);
        closeSync(fd);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
    }
    const keyId = readFileSync(this.activePath, 'utf8').trim();
    const key = this.read(keyId);
    return { keyId, privateKey: key.privateKey, public: this.toPublic(key) };
  }

  /** Creates a new key endorsed by the active one and makes it active. */
  rotate(): CheckpointPublicKey {
    const current = this.read(this.active().keyId);
    const next = this.generate(current);
    writeDurably(this.keyPath(next.keyId), JSON.stringify(next), 0o600);
    writeDurably(this.activePath, next.keyId, 0o600);
    return this.toPublic(next);
  }

  private toPublic(key: KeyFile): CheckpointPublicKey {
    return {
      keyId: key.keyId,
      fingerprint: publicKeyFingerprint(key.publicKey),
      publicKey: key.publicKey,
      endorsedBy: key.endorsedBy,
      endorsement: key.endorsement,
    };
  }
}
