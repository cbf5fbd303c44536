import { createSecretKey, type KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { KeysError, KeysErrorCode } from './keys.errors.js';
import {
  keyInfo,
  statusAt,
  type KeyInfo,
  type KeyKind,
  type KeyRecord,
  type KeyStatus,
  type RingDocument,
} from './key-record.js';
import type { KeyStore } from './key-store.js';
import type { MasterKey } from './master-key.js';

/** Options of {@link Keyring.open}. */
export interface KeyringOptions {
  readonly store: KeyStore;
  readonly masterKey: MasterKey;
  /** Clock (ms). Default `Date.now`. */
  readonly now?: () => number;
  /** Told about a refresh that failed (the ring keeps its last good state). */
  readonly onRefreshError?: (error: unknown) => void;
  /** Watch the store for other processes' writes. Default true. */
  readonly watch?: boolean;
  /**
   * Told the textual forms of every secret decrypted, so the process's log scrubber and the
   * audit recorder's secret check know them (`Secret.registry` of @sscontrol/config).
   */
  readonly onSecret?: (value: string) => void;
}

/** What changed in a refresh, for those who must act on it (the gateway disconnects). */
export interface KeyringChange {
  readonly version: number;
  /** Keys revoked since the previous state, with their kind. */
  readonly revokedKeys: readonly { readonly id: string; readonly kind: KeyKind }[];
  /** Client-token ids put on the revocation list since the previous state. */
  readonly revokedTokenIds: readonly string[];
}

/** A client-token or TURN key with its material, for signing or minting. */
export interface ResolvedKey {
  readonly record: KeyRecord;
  readonly material: Buffer;
}

interface VerifyEntry {
  readonly record: KeyRecord;
  readonly key: KeyObject | null;
}

/**
 * The key ring as one process sees it: the store's document with secrets decrypted in memory,
 * refreshed whenever any process writes (the store's watch: a stat poll, Redis pub/sub or
 * PostgreSQL LISTEN — well under a second). Statuses are computed from the keys' times at the
 * moment of use, so a key stops verifying when its grace ends on every instance at once, with
 * no message needed.
 */
export class Keyring extends EventEmitter<{ changed: [KeyringChange] }> {
  private doc: RingDocument | null = null;
  private readonly materials = new Map<string, { sealed: string; material: Buffer }>();
  private readonly verifyIndex = new Map<string, VerifyEntry>();
  private revokedTokens = new Map<string, number>();
  private refreshing: Promise<void> | null = null;
  private again = false;
  private unwatch: (() => void) | null = null;
  readonly now: () => number;

  private constructor(private readonly options: KeyringOptions) {
    super();
    this.now = options.now ?? Date.now;
  }

  /** Reads the ring (throws on a wrong master key or a corrupt store) and starts watching it. */
  static async open(options: KeyringOptions): Promise<Keyring> {
    const ring = new Keyring(options);
    await ring.load();
    if (options.watch !== false) {
      const refresh = () =>
        void ring.refresh().catch((error: unknown) => ring.options.onRefreshError?.(error));
      ring.unwatch = options.store.watch(refresh);
      // A write between the first read and the watch starting would otherwise go unseen.
      refresh();
    }
    return ring;
  }

  get store(): KeyStore {
    return this.options.store;
  }

  get masterKey(): MasterKey {
    return this.options.masterKey;
  }

  /** Version of the document in memory (0: no ring yet). */
  get version(): number {
    return this.doc?.version ?? 0;
  }

  /** The document in memory (the store's copy as of the last refresh). */
  get document(): RingDocument | null {
    return this.doc;
  }

  /** Re-reads the store now; concurrent calls share one read and one more after it. */
  refresh(): Promise<void> {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      try {
        do {
          this.again = false;
          await this.load();
        } while (this.again);
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private async load(): Promise<void> {
    const doc = await this.options.store.read();
    if (doc && doc.version === this.doc?.version) return;
    this.apply(doc);
  }

  /** Installs a document read or just written by this process (must be newer than the current). */
  apply(doc: RingDocument | null): void {
    if (!doc) return;
    if (this.doc && doc.version <= this.doc.version) return;
    if (doc.masterKey !== this.options.masterKey.fingerprint) {
      throw new KeysError(
        KeysErrorCode.MasterKeyMismatch,
        `the key store was sealed under master key ${doc.masterKey}, this process has ${this.options.masterKey.fingerprint}: set the SSCONTROL_MASTER_KEY the ring was created with`,
      );
    }
    // Decrypt first: a corrupt secret leaves the previous state in place.
    const materials = new Map<string, { sealed: string; material: Buffer }>();
    for (const key of doc.keys) {
      if (!key.sealed) continue;
      const cached = this.materials.get(key.id);
      if (cached && cached.sealed === key.sealed) {
        materials.set(key.id, cached);
        continue;
      }
      const material = this.options.masterKey.open(key.sealed, aadOf(key));
      materials.set(key.id, { sealed: key.sealed, material });
      for (const form of secretForms(material)) this.options.onSecret?.(form);
    }
    const previous = this.doc;
    const previousRevoked = this.revokedTokens;
    this.doc = doc;
    this.materials.clear();
    for (const [id, m] of materials) this.materials.set(id, m);
    this.verifyIndex.clear();
    for (const key of doc.keys) {
      const m = materials.get(key.id);
      this.verifyIndex.set(key.id, {
        record: key,
        key: m && key.kind === 'client-token' ? createSecretKey(m.material) : null,
      });
    }
    this.revokedTokens = new Map(
      doc.revokedTokens.map((t) => [t.tokenId, Date.parse(t.expiresAt)] as const),
    );
    const wasRevoked = new Set(previous?.keys.filter((k) => k.revokedAt).map((k) => k.id) ?? []);
    const change: KeyringChange = {
      version: doc.version,
      revokedKeys: doc.keys
        .filter((k) => k.revokedAt && !wasRevoked.has(k.id))
        .map((k) => ({ id: k.id, kind: k.kind })),
      revokedTokenIds: doc.revokedTokens
        .map((t) => t.tokenId)
        .filter((id) => !previousRevoked.has(id)),
    };
    this.emit('changed', change);
  }

  /** Every key (public view), newest first. */
  list(kind?: KeyKind): KeyInfo[] {
    const now = this.now();
    return (this.doc?.keys ?? [])
      .filter((k) => !kind || k.kind === kind)
      .map((k) => keyInfo(k, now))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  /** One key's record, or undefined. */
  get(id: string): KeyRecord | undefined {
    return this.verifyIndex.get(id)?.record;
  }

  statusOf(id: string): KeyStatus | undefined {
    const entry = this.verifyIndex.get(id);
    return entry ? statusAt(entry.record, this.now()) : undefined;
  }

  /** The newest active key of a kind with its material, or null. */
  active(kind: KeyKind): ResolvedKey | null {
    const now = this.now();
    let best: KeyRecord | null = null;
    for (const key of this.doc?.keys ?? []) {
      if (key.kind !== kind || statusAt(key, now) !== 'active') continue;
      if (!best || key.activatedAt > best.activatedAt) best = key;
    }
    if (!best) return null;
    const m = this.materials.get(best.id);
    return m ? { record: best, material: m.material } : null;
  }

  /** Like {@link active} but throws `no_active_key`. */
  requireActive(kind: KeyKind): ResolvedKey {
    const key = this.active(kind);
    if (!key) {
      throw new KeysError(
        KeysErrorCode.NoActiveKey,
        `no active ${kind} key: run \`sscontrol init\` (or \`sscontrol keys rotate --kind ${kind}\`)`,
      );
    }
    return key;
  }

  /** Material of every key of a kind that is active or retiring now (what verifiers accept). */
  accepted(kind: KeyKind): ResolvedKey[] {
    const now = this.now();
    const out: ResolvedKey[] = [];
    for (const key of this.doc?.keys ?? []) {
      if (key.kind !== kind) continue;
      const status = statusAt(key, now);
      if (status !== 'active' && status !== 'retiring') continue;
      const m = this.materials.get(key.id);
      if (m) out.push({ record: key, material: m.material });
    }
    return out;
  }

  /** The HMAC key of a client-token `kid` and its status now; undefined for an unknown kid. */
  tokenKey(kid: string): { status: KeyStatus; key: KeyObject } | undefined {
    const entry = this.verifyIndex.get(kid);
    if (!entry?.key) return undefined;
    return { status: statusAt(entry.record, this.now()), key: entry.key };
  }

  /** True when the token id is on the revocation list. */
  isTokenRevoked(tokenId: string): boolean {
    return this.revokedTokens.has(tokenId);
  }

  close(): void {
    this.unwatch?.();
    this.unwatch = null;
  }
}

/** Associated data binding a sealed secret to its record. */
export function aadOf(key: { id: string; kind: KeyKind }): string {
  return `${key.kind}/${key.id}`;
}

/** The ways a secret can be written out: as text (TURN secret, Redis password), base64, hex. */
function secretForms(material: Buffer): string[] {
  const forms = [
    material.toString('base64'),
    material.toString('base64url'),
    material.toString('hex'),
  ];
  const text = material.toString('utf8');
  if (/^[\x21-\x7e]{8,}$/.test(text)) forms.push(text);
  return forms;
}
