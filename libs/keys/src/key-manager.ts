import type { AuditContext, AuditRecorder } from '@sscontrol/audit';
import { formatApiKey, newApiKeySecret } from './api-keys.js';
import { KeysError, KeysErrorCode } from './keys.errors.js';
import {
  KEY_KINDS,
  keyInfo,
  statusAt,
  type KeyInfo,
  type KeyKind,
  type KeyRecord,
  type OperatorRole,
  type RingDocument,
} from './key-record.js';
import { fingerprintOf, newKeyId, newMaterial } from './key-material.js';
import { aadOf, type Keyring } from './keyring.js';

/**
 * A system outside the ring that must accept exactly the secrets of one kind that are active or
 * retiring: coturn's secret set in Redis, the Redis ACL user's passwords.
 */
export interface SecretApplier {
  readonly kind: 'turn-secret' | 'redis-password';
  /** Makes the dependent system accept exactly `secrets` (adding before removing). */
  apply(secrets: readonly string[]): Promise<void>;
}

/** Kinds of the keys a change adds or alters. */
function touchedKinds(before: RingDocument | null, after: RingDocument): Set<KeyKind> {
  const old = new Map((before?.keys ?? []).map((k) => [k.id, JSON.stringify(k)]));
  return new Set(after.keys.filter((k) => old.get(k.id) !== JSON.stringify(k)).map((k) => k.kind));
}

/**
 * Audit records of a change, queued while the change is computed and recorded (in order, each
 * durable) once dependent systems accepted it and before the ring is written.
 */
class DeferredAudit {
  private readonly queue: (() => Promise<unknown>)[] = [];

  constructor(private readonly recorder: AuditRecorder) {}

  record(...args: Parameters<AuditRecorder['record']>): Promise<void> {
    this.queue.push(() => this.recorder.record(...args));
    return Promise.resolve();
  }

  recordAll(...args: Parameters<AuditRecorder['recordAll']>): Promise<void> {
    this.queue.push(() => this.recorder.recordAll(...args));
    return Promise.resolve();
  }

  async flush(): Promise<void> {
    for (const record of this.queue) await record();
  }
}

/** The audit checkpoint key, rotated by the audit library (Ed25519, endorsed chain). */
export interface CheckpointKeyRotator {
  active(): { keyId: string; fingerprint: string };
  rotate(): Promise<{ keyId: string; fingerprint: string }>;
}

/** Options of {@link KeyManager}. */
export interface KeyManagerOptions {
  readonly keyring: Keyring;
  readonly recorder: AuditRecorder;
  readonly appliers?: readonly SecretApplier[];
  readonly checkpointKeys?: CheckpointKeyRotator;
  /** Default grace per kind when a rotation names none (TURN: one credential lifetime). */
  readonly defaultGraceMs: Readonly<Record<KeyKind, number>>;
  /** ACL user whose password the redis-password kind is (label of those keys). */
  readonly redisUser?: string;
  /**
   * The Redis password processes use today (from REDIS_URL). The first rotation of the
   * redis-password kind imports it as the key being replaced, so it keeps working for the grace.
   */
  readonly currentRedisPassword?: () => string | undefined;
  /** Told when a dependent system could not be updated where that is retried later. */
  readonly onApplyError?: (kind: SecretApplier['kind'], error: unknown) => void;
}

/** What a rotation asks for. */
export interface RotationRequest {
  readonly kinds: readonly KeyKind[];
  /** Every kind this deployment can rotate (breach response); kinds it cannot are reported as skipped. */
  readonly all?: boolean;
  /** How long replaced keys keep verifying. Default: the kind's default grace. */
  readonly graceMs?: number;
  /** Revoke replaced keys at once (and disconnect their clients) instead of a grace period. */
  readonly immediate?: boolean;
  readonly reason?: string;
}

/** A new operator API key; `apiKey` is shown once and never stored. */
export interface IssuedApiKey {
  readonly key: KeyInfo;
  readonly apiKey: string;
}

/** What a rotation did, per kind. */
export interface RotationResult {
  readonly kind: KeyKind;
  readonly replaced: readonly KeyInfo[];
  readonly created: readonly KeyInfo[];
  readonly graceMs: number;
  readonly immediate: boolean;
  /** Operator API keys that replaced the old ones (shown once). */
  readonly apiKeys: readonly IssuedApiKey[];
  /** With `all`: why this kind was not rotated here. */
  readonly skipped?: string;
}

const ROTATION_ORDER: readonly KeyKind[] = KEY_KINDS;
/**
 * A revoked token id is kept past the token's expiry by the largest clock skew a verifier may
 * tolerate (CLIENT_TOKEN_CLOCK_SKEW ≤ 5 min): until then a verifier could still accept it.
 */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const GENERATED = new Set<KeyKind>(['client-token', 'turn-secret', 'redis-password']);

/**
 * Changes the ring: creates, rotates, revokes and retires keys, revokes token ids, issues
 * operator API keys. Every change runs under the store's lock, is recorded in the audit trail
 * before it is written (fail closed: no durable event, no change), and is pushed to the systems
 * that depend on it (coturn's secret set, Redis ACL) before the ring starts using it.
 */
export class KeyManager {
  constructor(private readonly options: KeyManagerOptions) {}

  get keyring(): Keyring {
    return this.options.keyring;
  }

  /** Creates the first key of each generated kind that has none. Returns the keys created. */
  async ensureInitialKeys(
    context: AuditContext,
    kinds: readonly KeyKind[] = ['client-token', 'turn-secret'],
  ): Promise<KeyInfo[]> {
    const needed = (doc: RingDocument | null) =>
      kinds.filter(
        (kind) =>
          !(doc?.keys ?? []).some((k) => k.kind === kind && statusAt(k, this.now()) === 'active'),
      );
    if (needed(this.keyring.document).length === 0) return [];
    return this.mutate({ strict: false }, async (doc, audit) => {
      const created: KeyRecord[] = [];
      for (const kind of needed(doc)) {
        const key =
          kind === 'audit-checkpoint'
            ? this.checkpointRecord(this.requireCheckpointKeys().active(), null)
            : this.generate(kind, null);
        created.push(key);
        doc.keys.push(key);
      }
      for (const key of created) {
        await audit.record(
          'key.created',
          { keyId: key.id, kind: key.kind, fingerprint: key.fingerprint },
          context,
        );
      }
      return created.map((k) => keyInfo(k, this.now()));
    });
  }

  /** Rotates every kind named (in a fixed order); `--all` passes every kind. */
  async rotate(request: RotationRequest, context: AuditContext): Promise<RotationResult[]> {
    if (
      request.graceMs !== undefined &&
      (request.graceMs < 0 || !Number.isInteger(request.graceMs))
    ) {
      throw new KeysError(KeysErrorCode.InvalidRequest, 'grace must be a non-negative duration');
    }
    const named = request.all
      ? ROTATION_ORDER
      : ROTATION_ORDER.filter((k) => request.kinds.includes(k));
    if (named.length === 0) {
      throw new KeysError(KeysErrorCode.InvalidRequest, 'name at least one key kind (or all)');
    }
    // `all` (breach response) rotates what this deployment manages and says what it could not;
    // a kind named explicitly that cannot be rotated here is an error.
    const skipped: RotationResult[] = [];
    const kinds: KeyKind[] = [];
    for (const kind of named) {
      const why = this.cannotRotate(kind);
      if (!why) kinds.push(kind);
      else if (request.all) {
        skipped.push({
          kind,
          replaced: [],
          created: [],
          graceMs: 0,
          immediate: false,
          apiKeys: [],
          skipped: why.message,
        });
      } else throw why;
    }
    return this.mutate({ strict: true }, async (doc, audit) => {
      const results: RotationResult[] = [];
      for (const kind of kinds)
        results.push(await this.rotateKind(doc, kind, request, context, audit));
      return [...results, ...skipped];
    });
  }

  private async rotateKind(
    doc: RingDocument,
    kind: KeyKind,
    request: RotationRequest,
    context: AuditContext,
    audit: DeferredAudit,
  ): Promise<RotationResult> {
    const now = this.now();
    const immediate = request.immediate ?? false;
    const graceMs = immediate ? 0 : (request.graceMs ?? this.options.defaultGraceMs[kind]);
    if (kind === 'redis-password' && !doc.keys.some((k) => k.kind === kind)) {
      const current = this.options.currentRedisPassword?.();
      if (current) doc.keys.push(this.generate(kind, null, Buffer.from(current, 'utf8')));
    }
    const replaced = doc.keys.filter((k) => k.kind === kind && statusAt(k, now) === 'active');
    // --immediate cuts off everything old of the kind, including keys still in an earlier grace.
    const stillRetiring = immediate
      ? doc.keys.filter((k) => k.kind === kind && statusAt(k, now) === 'retiring')
      : [];
    const created: KeyRecord[] = [];
    const apiKeys: IssuedApiKey[] = [];

    if (kind === 'operator-api') {
      // Each operator's key is replaced by a new one with the same name and role.
      for (const old of replaced) {
        const { record, apiKey } = this.newApiKey(
          old.label ?? old.id,
          old.role ?? 'auditor',
          old.id,
        );
        created.push(record);
        apiKeys.push({ key: keyInfo(record, now), apiKey });
      }
    } else if (kind === 'audit-checkpoint') {
      const next = await this.requireCheckpointKeys().rotate();
      created.push(this.checkpointRecord(next, replaced[0]?.id ?? null));
    } else {
      created.push(this.generate(kind, replaced[0]?.id ?? null));
    }

    const at = new Date(now).toISOString();
    for (const old of replaced) {
      if (immediate || kind === 'audit-checkpoint') {
        // A replaced checkpoint key signs nothing more; its signatures stay verifiable.
        if (immediate) old.revokedAt = at;
        else old.retiredAt = at;
        old.retireAt = at;
      } else {
        old.retireAt = new Date(now + graceMs).toISOString();
      }
    }
    for (const old of stillRetiring) old.revokedAt = at;
    doc.keys.push(...created);

    for (const key of created) {
      const previous = replaced.find((r) => r.id === key.replaces) ?? null;
      await audit.recordAll(
        [
          {
            type: 'key.created',
            data: { keyId: key.id, kind, fingerprint: key.fingerprint },
          },
          {
            type: 'key.rotated',
            data: {
              kind,
              previous: previous ? { keyId: previous.id, fingerprint: previous.fingerprint } : null,
              next: { keyId: key.id, fingerprint: key.fingerprint },
              graceMs,
              immediate,
              ...(request.reason ? { reason: request.reason } : {}),
            },
          },
        ],
        context,
      );
    }
    if (immediate) {
      for (const old of [...replaced, ...stillRetiring]) {
        await this.recordRevoked(audit, old, request.reason, context);
      }
    }
    return {
      kind,
      replaced: [...replaced, ...stillRetiring].map((k) => keyInfo(k, now)),
      created: created.map((k) => keyInfo(k, now)),
      graceMs,
      immediate,
      apiKeys,
    };
  }

  /**
   * Revokes one key now: it stops verifying on every instance within a second. Revoking the
   * active client-token, TURN or Redis-password key puts a new one in its place (recorded as an
   * immediate rotation), so that minting and TURN keep working.
   */
  async revokeKey(
    keyId: string,
    reason: string | undefined,
    context: AuditContext,
  ): Promise<KeyInfo> {
    return this.mutate({ strict: true }, async (doc, audit) => {
      const key = doc.keys.find((k) => k.id === keyId);
      if (!key) throw new KeysError(KeysErrorCode.KeyNotFound, `no key ${keyId}`);
      if (key.revokedAt) {
        throw new KeysError(KeysErrorCode.KeyNotUsable, `key ${keyId} is already revoked`);
      }
      if (key.kind === 'audit-checkpoint') {
        // Its signatures must stay verifiable; what can be done is to stop signing with it.
        throw new KeysError(
          KeysErrorCode.InvalidRequest,
          'an audit checkpoint key is not revoked but replaced: sscontrol keys rotate --kind audit-checkpoint',
        );
      }
      const wasActive = statusAt(key, this.now()) === 'active';
      key.revokedAt = new Date(this.now()).toISOString();
      // Revoking the key in use would stop all minting (and TURN): a replacement takes over.
      if (wasActive && GENERATED.has(key.kind)) {
        const next = this.generate(key.kind, key.id);
        doc.keys.push(next);
        await audit.recordAll(
          [
            {
              type: 'key.created',
              data: { keyId: next.id, kind: next.kind, fingerprint: next.fingerprint },
            },
            {
              type: 'key.rotated',
              data: {
                kind: next.kind,
                previous: { keyId: key.id, fingerprint: key.fingerprint },
                next: { keyId: next.id, fingerprint: next.fingerprint },
                graceMs: 0,
                immediate: true,
                ...(reason ? { reason } : {}),
              },
            },
          ],
          context,
        );
      }
      await this.recordRevoked(audit, key, reason, context);
      return keyInfo(key, this.now());
    });
  }

  /** Puts a client-token id on the revocation list until the token would have expired anyway. */
  async revokeToken(
    request: { tokenId: string; expiresAt: Date; subject?: string; reason?: string },
    context: AuditContext,
  ): Promise<void> {
    if (!/^[\x21-\x7e]{1,200}$/.test(request.tokenId)) {
      throw new KeysError(
        KeysErrorCode.InvalidRequest,
        'tokenId must be 1-200 printable characters',
      );
    }
    await this.mutate({ strict: true }, async (doc, audit) => {
      if (doc.revokedTokens.some((t) => t.tokenId === request.tokenId)) return;
      await audit.record(
        'token.revoked',
        {
          tokenId: request.tokenId,
          expiresAt: request.expiresAt.toISOString(),
          ...(request.subject ? { subject: request.subject } : {}),
          ...(request.reason ? { reason: request.reason } : {}),
        },
        context,
      );
      doc.revokedTokens.push({
        tokenId: request.tokenId,
        expiresAt: request.expiresAt.toISOString(),
      });
    });
  }

  /** Issues an operator API key; the returned `apiKey` is the only copy. */
  async createApiKey(
    request: { label: string; role: OperatorRole },
    context: AuditContext,
  ): Promise<IssuedApiKey> {
    if (!/^[\x20-\x7e]{1,100}$/.test(request.label)) {
      throw new KeysError(KeysErrorCode.InvalidRequest, 'label must be 1-100 printable characters');
    }
    return this.mutate({ strict: true }, async (doc, audit) => {
      const { record, apiKey } = this.newApiKey(request.label, request.role, null);
      await audit.record(
        'key.created',
        { keyId: record.id, kind: 'operator-api', fingerprint: record.fingerprint },
        context,
      );
      doc.keys.push(record);
      return { key: keyInfo(record, this.now()), apiKey };
    });
  }

  /**
   * Applies what time did: keys past their grace are marked retired (and `key.retired`
   * recorded), expired entries leave the token revocation list, and dependent systems are
   * brought back in line with the ring (coturn's set loses the retired secret). Writes only
   * when something changed. Run it every second in one place per cluster or in all: it is
   * serialised by the store's lock and idempotent.
   */
  async sweep(context: AuditContext): Promise<{ retired: KeyInfo[] }> {
    const due = (doc: RingDocument | null) => {
      const now = this.now();
      return {
        keys: (doc?.keys ?? []).filter(
          (k) => k.retireAt && !k.retiredAt && !k.revokedAt && Date.parse(k.retireAt) <= now,
        ),
        tokens: (doc?.revokedTokens ?? []).some(
          (t) => Date.parse(t.expiresAt) + MAX_CLOCK_SKEW_MS < now,
        ),
      };
    };
    const pending = due(this.keyring.document);
    if (pending.keys.length === 0 && !pending.tokens) return { retired: [] };
    return this.mutate({ strict: false }, async (doc, audit) => {
      const now = this.now();
      const { keys } = due(doc);
      for (const key of keys) {
        key.retiredAt = new Date(now).toISOString();
        await audit.record(
          'key.retired',
          { keyId: key.id, kind: key.kind, fingerprint: key.fingerprint },
          context,
        );
      }
      doc.revokedTokens = doc.revokedTokens.filter(
        (t) => Date.parse(t.expiresAt) + MAX_CLOCK_SKEW_MS >= now,
      );
      return { retired: keys.map((k) => keyInfo(k, now)) };
    });
  }

  /** Brings dependent systems in line with the ring without changing it (e.g. after a Redis restart). */
  async reconcile(): Promise<void> {
    await this.keyring.store.update(async (current) => {
      if (current) {
        this.keyring.apply(current);
        await this.applySecrets(this.acceptedSecrets(current), true);
      }
      return { next: null, result: undefined };
    });
  }

  /**
   * Runs `change` on a copy of the current document under the store's lock, then, in this
   * order: dependent systems are given every secret the old or the new ring accepts (adding the
   * new, removing nothing; with `strict` a failure aborts everything); the audit events `change`
   * queued are recorded (fail closed: a failure aborts before anything is written); the ring is
   * written; and only then are secrets the new ring no longer accepts removed from the dependent
   * systems (a failure there is retried by `reconcile` and never makes a done change look failed).
   */
  private async mutate<T>(
    options: { strict: boolean },
    change: (doc: RingDocument, audit: DeferredAudit) => Promise<T>,
  ): Promise<T> {
    let written: RingDocument | null = null;
    let touched = new Set<KeyKind>();
    const result = await this.keyring.store.update(async (current) => {
      const doc: RingDocument = current
        ? structuredClone(current)
        : {
            format: 1,
            version: 0,
            masterKey: this.keyring.masterKey.fingerprint,
            updatedAt: new Date(this.now()).toISOString(),
            keys: [],
            revokedTokens: [],
          };
      if (current) this.keyring.apply(current);
      if (doc.masterKey !== this.keyring.masterKey.fingerprint) {
        throw new KeysError(
          KeysErrorCode.MasterKeyMismatch,
          'the key store was sealed under another master key',
        );
      }
      const before = JSON.stringify(doc);
      const audit = new DeferredAudit(this.options.recorder);
      const value = await change(doc, audit);
      if (JSON.stringify(doc) === before) return { next: null, result: value };
      // Only systems whose keys this change touches are updated (and may fail it); drift in the
      // others is the periodic reconcile's business.
      touched = touchedKinds(current, doc);
      const accepted = this.acceptedSecrets(current);
      const union = new Map<SecretApplier['kind'], string[]>();
      for (const [kind, secrets] of this.acceptedSecrets(doc)) {
        if (!touched.has(kind)) continue;
        union.set(kind, [...new Set([...(accepted.get(kind) ?? []), ...secrets])]);
      }
      await this.applySecrets(union, options.strict);
      await audit.flush();
      doc.version += 1;
      doc.updatedAt = new Date(this.now()).toISOString();
      written = doc;
      return { next: doc, result: value };
    });
    if (written) {
      this.keyring.apply(written);
      const after = this.acceptedSecrets(written);
      for (const kind of after.keys()) if (!touched.has(kind)) after.delete(kind);
      await this.applySecrets(after, false);
    }
    return result;
  }

  /** Per applier kind, the secrets a ring accepts now (active or retiring). */
  private acceptedSecrets(doc: RingDocument | null): Map<SecretApplier['kind'], string[]> {
    const now = this.now();
    const out = new Map<SecretApplier['kind'], string[]>();
    for (const applier of this.options.appliers ?? []) {
      out.set(
        applier.kind,
        (doc?.keys ?? [])
          .filter((k) => k.kind === applier.kind && k.sealed)
          .filter((k) => {
            const s = statusAt(k, now);
            return s === 'active' || s === 'retiring';
          })
          .map((k) => this.keyring.masterKey.open(k.sealed!, aadOf(k)).toString('utf8')),
      );
    }
    return out;
  }

  private async applySecrets(
    secrets: Map<SecretApplier['kind'], string[]>,
    strict: boolean,
  ): Promise<void> {
    for (const applier of this.options.appliers ?? []) {
      const list = secrets.get(applier.kind) ?? [];
      if (list.length === 0) continue;
      try {
        await applier.apply(list);
      } catch (error) {
        if (!strict) {
          this.options.onApplyError?.(applier.kind, error);
          continue;
        }
        const what = applier.kind === 'turn-secret' ? "coturn's secret set" : 'the Redis ACL user';
        throw new KeysError(
          KeysErrorCode.SecretSyncFailed,
          `could not update ${what}: ${(error as Error).message}; nothing was changed`,
          { cause: error },
        );
      }
    }
  }

  private async recordRevoked(
    audit: DeferredAudit,
    key: KeyRecord,
    reason: string | undefined,
    context: AuditContext,
  ): Promise<void> {
    await audit.record(
      'key.revoked',
      {
        keyId: key.id,
        kind: key.kind,
        fingerprint: key.fingerprint,
        ...(reason ? { reason } : {}),
      },
      context,
    );
  }

  private generate(kind: KeyKind, replaces: string | null, imported?: Buffer): KeyRecord {
    if (!GENERATED.has(kind)) throw new Error(`kind ${kind} is not generated here`);
    const material =
      imported ?? newMaterial(kind as 'client-token' | 'turn-secret' | 'redis-password');
    const id = newKeyId(kind);
    const at = new Date(this.now()).toISOString();
    return {
      id,
      kind,
      createdAt: at,
      activatedAt: at,
      retireAt: null,
      retiredAt: null,
      revokedAt: null,
      fingerprint: fingerprintOf(kind, material),
      sealed: this.keyring.masterKey.seal(material, aadOf({ id, kind })),
      secretHash: null,
      label: kind === 'redis-password' ? (this.options.redisUser ?? 'default') : null,
      role: null,
      replaces,
    };
  }

  private newApiKey(
    label: string,
    role: OperatorRole,
    replaces: string | null,
  ): { record: KeyRecord; apiKey: string } {
    const id = newKeyId('operator-api');
    const secret = newApiKeySecret();
    const secretHash = this.keyring.masterKey.hashApiSecret(secret);
    const at = new Date(this.now()).toISOString();
    return {
      record: {
        id,
        kind: 'operator-api',
        createdAt: at,
        activatedAt: at,
        retireAt: null,
        retiredAt: null,
        revokedAt: null,
        fingerprint: fingerprintOf('operator-api', secretHash),
        sealed: null,
        secretHash,
        label,
        role,
        replaces,
      },
      apiKey: formatApiKey(id, secret),
    };
  }

  private checkpointRecord(
    key: { keyId: string; fingerprint: string },
    replaces: string | null,
  ): KeyRecord {
    const at = new Date(this.now()).toISOString();
    return {
      id: `ac_${key.keyId
        .replace(/[^0-9a-z]/g, '')
        .slice(-16)
        .padStart(10, '0')}`,
      kind: 'audit-checkpoint',
      createdAt: at,
      activatedAt: at,
      retireAt: null,
      retiredAt: null,
      revokedAt: null,
      fingerprint: key.fingerprint.slice(0, 32),
      sealed: null,
      secretHash: null,
      label: key.keyId,
      role: null,
      replaces,
    };
  }

  private requireCheckpointKeys(): CheckpointKeyRotator {
    if (!this.options.checkpointKeys) {
      throw new KeysError(
        KeysErrorCode.InvalidRequest,
        'audit-checkpoint keys are rotated where the audit checkpoint keys live (the CLI or the control process)',
      );
    }
    return this.options.checkpointKeys;
  }

  /** Why a kind cannot be rotated by this process, or null. */
  private cannotRotate(kind: KeyKind): KeysError | null {
    try {
      if (kind === 'redis-password') this.requireRedisPasswordSupport();
      if (kind === 'audit-checkpoint') this.requireCheckpointKeys();
      return null;
    } catch (error) {
      if (error instanceof KeysError) return error;
      throw error;
    }
  }

  private requireRedisPasswordSupport(): void {
    if (this.keyring.store.backend === 'redis') {
      throw new KeysError(
        KeysErrorCode.KeyStoreUnsuitable,
        'the Redis password cannot be rotated while the key store is Redis itself (a process restarting after the switch could not read the new password): use KEY_STORE=postgres or file',
      );
    }
    if (!this.options.appliers?.some((a) => a.kind === 'redis-password')) {
      throw new KeysError(
        KeysErrorCode.InvalidRequest,
        'the Redis password is rotated through Redis ACLs: this process has no Redis connection to do it',
      );
    }
  }

  private now(): number {
    return this.keyring.now();
  }
}
