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

/**
 * Encrypts secret material at rest (the keys library's master key: AES-256-GCM). `aad` binds a
 * sealed secret to what it belongs to.
 */
export interface SecretCipher {
  seal(plaintext: Buffer, aad: string): string;
  open(sealed: string, aad: string): Buffer;
}

const keyFileSchema = z
  .strictObject({
    keyId: z.string(),
    createdAt: z.string(),
    /** Plain PEM: only files written without a master key (before keys were sealed). */
    privateKey: z.string().startsWith('-----BEGIN PRIVATE KEY-----').optional(),
    /** The PEM sealed under the master key. */
    privateKeySealed: z.string().optional(),
    publicKey: z.string().startsWith('-----BEGIN PUBLIC KEY-----'),
    endorsedBy: z.string().nullable(),
    endorsement: z.string().nullable(),
  })
  .refine((f) => (f.privateKey === undefined) !== (f.privateKeySealed === undefined), {
    message: 'exactly one of privateKey and privateKeySealed',
  });
type KeyFile = z.infer<typeof keyFileSchema>;
/** A key file with its private key at hand (in memory only). */
type OpenKey = KeyFile & { privateKey: string };

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
  /**
   * @param cipher seals private keys at rest (the master key); without one they are written as
   *   plain PEM (mode 0600). Plain files found while a cipher is set are sealed on first read.
   */
  constructor(
    private readonly dir: string,
    private readonly storeId: string,
    private readonly cipher?: SecretCipher,
  ) {}

  private keyPath(keyId: string): string {
    return path.join(this.dir, `checkpoint-${keyId}.json`);
  }

  private get activePath(): string {
    return path.join(this.dir, `checkpoint-active-${this.storeId}`);
  }

  private read(keyId: string): OpenKey {
    let file: KeyFile;
    try {
      file = keyFileSchema.parse(JSON.parse(readFileSync(this.keyPath(keyId), 'utf8')));
    } catch (error) {
      throw new AuditError(
        AuditErrorCode.KeyStoreCorrupt,
        `checkpoint key ${keyId} is unreadable: ${(error as Error).message}`,
      );
    }
    if (file.privateKey !== undefined) {
      const open = { ...file, privateKey: file.privateKey };
      // Written before keys were sealed: seal it now, so the plain copy does not stay on disk.
      if (this.cipher) writeDurably(this.keyPath(keyId), JSON.stringify(this.toFile(open)), 0o600);
      return open;
    }
    if (!this.cipher) {
      throw new AuditError(
        AuditErrorCode.NoSigningKey,
        `checkpoint key ${keyId} is sealed under the master key: set SSCONTROL_MASTER_KEY`,
      );
    }
    let pem: string;
    try {
      pem = this.cipher.open(file.privateKeySealed!, aadOf(keyId)).toString('utf8');
    } catch {
      throw new AuditError(
        AuditErrorCode.KeyStoreCorrupt,
        `checkpoint key ${keyId} does not decrypt under this master key`,
      );
    }
    const { privateKeySealed: _sealed, ...rest } = file;
    return { ...rest, privateKey: pem };
  }

  /** The file form of a key: sealed when a cipher is set. */
  private toFile(key: OpenKey): KeyFile {
    if (!this.cipher) return key;
    const { privateKey, ...rest } = key;
    return {
      ...rest,
      privateKeySealed: this.cipher.seal(Buffer.from(privateKey, 'utf8'), aadOf(key.keyId)),
    };
  }

  private generate(previous: OpenKey | null): OpenKey {
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
      writeDurably(this.keyPath(first.keyId), JSON.stringify(this.toFile(first)), 0o600);
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
    writeDurably(this.keyPath(next.keyId), JSON.stringify(this.toFile(next)), 0o600);
    writeDurably(this.activePath, next.keyId, 0o600);
    return this.toPublic(next);
  }

  private toPublic(key: OpenKey): CheckpointPublicKey {
    return {
      keyId: key.keyId,
      fingerprint: publicKeyFingerprint(key.publicKey),
      publicKey: key.publicKey,
      endorsedBy: key.endorsedBy,
      endorsement: key.endorsement,
    };
  }
}

function aadOf(keyId: string): string {
  return `audit-checkpoint/${keyId}`;
}
