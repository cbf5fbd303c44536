import { closeSync, fsyncSync, openSync, readFileSync, writeSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { AuditRecorder } from '@sscontrol/audit';
import { Secret, type Config } from '@sscontrol/config';
import { applyPassword, reconcileAclPasswords } from '@sscontrol/redis';
import { ClientTokens } from './client-tokens.js';
import { FileKeyStore } from './file-key-store.js';
import { KeysError, KeysErrorCode } from './keys.errors.js';
import { KeyManager, type CheckpointKeyRotator, type SecretApplier } from './key-manager.js';
import type { KeyStore } from './key-store.js';
import { Keyring } from './keyring.js';
import { MasterKey } from './master-key.js';
import { PostgresKeyStore } from './postgres-key-store.js';
import { RedisKeyStore } from './redis-key-store.js';
import { turnRestCredential } from './turn-credentials.js';
import { TurnSecretSet } from './turn-secret-set.js';

/**
 * The master key of this process: SSCONTROL_MASTER_KEY, else SSCONTROL_MASTER_KEY_FILE, else
 * (outside production) `<data>/master.key`, generated on first use with O_EXCL so that two
 * processes starting together agree on one key. `warn` is told when a key was generated.
 */
export function resolveMasterKey(
  keys: Config['keys'],
  warn?: (message: string) => void,
): MasterKey {
  if (keys.masterKey) return MasterKey.parse(keys.masterKey.reveal());
  if (keys.masterKeyFile) return MasterKey.parse(registered(readKeyFile(keys.masterKeyFile)));
  const file = keys.generatedMasterKeyFile;
  if (!file) {
    throw new KeysError(
      KeysErrorCode.MasterKeyMissing,
      'SSCONTROL_MASTER_KEY is not set: generate one with `openssl rand -base64 32` and keep it outside the data dir',
    );
  }
  try {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, 'wx', 0o600);
    try {
      writeSync(fd, `${MasterKey.generate()}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    warn?.(
      `generated a master key in ${file} because SSCONTROL_MASTER_KEY is not set; in production set SSCONTROL_MASTER_KEY and keep it away from the data it protects`,
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return MasterKey.parse(registered(readKeyFile(file)));
}

/** A master key read from a file is a secret like one from the environment: scrubbed from logs. */
function registered(text: string): string {
  Secret.registry.add(text.trim());
  return text;
}

function readKeyFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new KeysError(
      KeysErrorCode.MasterKeyMissing,
      `cannot read the master key file ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
}

/** TURN credentials as handed to a client: coturn REST username/credential plus the URIs. */
export interface IssuedTurnCredential {
  readonly username: string;
  readonly credential: string;
  readonly ttlSeconds: number;
  readonly expiresAt: Date;
  readonly uris: readonly string[];
  readonly keyId: string;
  readonly keyFingerprint: string;
}

/** Options of {@link KeysRuntime.open}. */
export interface KeysRuntimeOptions {
  readonly config: Config;
  readonly recorder: AuditRecorder;
  readonly checkpointKeys?: CheckpointKeyRotator;
  readonly onRefreshError?: (error: unknown) => void;
  readonly warn?: (message: string) => void;
  /** Follow other processes' writes. Default true (the CLI passes false). */
  readonly watch?: boolean;
}

function redisClient(url: string, name: string): Redis {
  // lazyConnect: the first command connects, so a password set right after construction counts.
  const client = new Redis(url, {
    lazyConnect: true,
    connectionName: name,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 10), 5000),
  });
  // Failures surface through the commands that need Redis (as secret_sync_failed and the like).
  client.on('error', () => undefined);
  return client;
}

/**
 * Everything a process needs of the key ring, opened from the configuration: the store, the ring,
 * client tokens, TURN credentials, the manager (rotation) with its appliers (coturn's secret set,
 * the Redis ACL user), and the Redis clients that must follow a Redis password rotation.
 */
export class KeysRuntime {
  private readonly owned: (() => Promise<void>)[] = [];
  private readonly followers: Set<Redis>;
  private readonly warn: (message: string) => void;
  readonly tokens: ClientTokens;
  readonly manager: KeyManager;

  private constructor(
    readonly config: Config,
    readonly keyring: Keyring,
    appliers: SecretApplier[],
    options: KeysRuntimeOptions,
    owned: (() => Promise<void>)[],
    followers: Set<Redis>,
  ) {
    this.owned = owned;
    this.followers = followers;
    this.warn = options.warn ?? (() => undefined);
    this.tokens = new ClientTokens(keyring, {
      maxTtlSeconds: Math.floor(config.keys.clientTokenMaxTtlMs / 1000),
      clockSkewSeconds: Math.floor(config.keys.clockSkewMs / 1000),
    });
    const grace = config.keys.rotationGraceMs;
    this.manager = new KeyManager({
      keyring,
      recorder: options.recorder,
      appliers,
      ...(options.checkpointKeys ? { checkpointKeys: options.checkpointKeys } : {}),
      defaultGraceMs: {
        'client-token': grace,
        'operator-api': grace,
        'turn-secret': config.turn.credentialTtlMs,
        'redis-password': grace,
        'audit-checkpoint': 0,
      },
      redisUser: redisUsername(config.redis.url.reveal()),
      onApplyError: (kind, error) =>
        options.warn?.(
          `could not bring ${kind === 'turn-secret' ? "coturn's secret set" : 'the Redis ACL user'} in line with the key ring (retried): ${(error as Error).message}`,
        ),
      currentRedisPassword: () => decodeURIComponent(new URL(config.redis.url.reveal()).password),
    });
    keyring.on('changed', () => void this.followRedisPassword());
  }

  static async open(options: KeysRuntimeOptions): Promise<KeysRuntime> {
    const { config } = options;
    const masterKey = resolveMasterKey(config.keys, options.warn);
    const owned: (() => Promise<void>)[] = [];
    const followers = new Set<Redis>();
    let ringForPassword: Keyring | null = null;
    let redis: Redis | null = null;
    const sharedRedis = () => {
      if (!redis) {
        redis = redisClient(config.redis.url.reveal(), `sscontrol-${config.service}-keys`);
        // Created lazily, after the ring is open: connect with a rotated password if there is one.
        const rotated = ringForPassword?.active('redis-password');
        if (rotated) redis.options.password = rotated.material.toString('utf8');
        const r = redis;
        followers.add(r);
        owned.push(async () => void r.disconnect());
      }
      return redis;
    };
    let store: KeyStore;
    const s = config.keys.store;
    switch (s.backend) {
      case 'file':
        store = new FileKeyStore({ file: s.file });
        break;
      case 'redis':
        store = new RedisKeyStore({ client: sharedRedis() });
        break;
      case 'postgres': {
        const pool = new pg.Pool({ connectionString: s.url.reveal(), max: 3 });
        pool.on('error', () => undefined);
        owned.push(() => pool.end());
        store = new PostgresKeyStore({ pool, schema: s.schema });
        break;
      }
    }
    owned.unshift(() => store.close());
    const appliers: SecretApplier[] = [];
    if (config.turn.secretSync === 'redis') {
      const sameRedis = config.turn.redisUrl.reveal() === config.redis.url.reveal();
      let turnRedis: Redis | null = null;
      appliers.push({
        kind: 'turn-secret',
        apply: async (secrets) => {
          if (!turnRedis) {
            turnRedis = sameRedis
              ? sharedRedis()
              : redisClient(config.turn.redisUrl.reveal(), `sscontrol-${config.service}-turn`);
            const r = turnRedis;
            if (!sameRedis) owned.push(async () => void r.disconnect());
          }
          await new TurnSecretSet(turnRedis, config.turn.realm).reconcile(secrets);
        },
      });
    }
    if (config.keys.store.backend !== 'redis') {
      appliers.push({
        kind: 'redis-password',
        apply: async (secrets) => {
          await reconcileAclPasswords(
            sharedRedis(),
            redisUsername(config.redis.url.reveal()),
            secrets,
          );
        },
      });
    }
    let keyring: Keyring;
    try {
      keyring = await Keyring.open({
        store,
        masterKey,
        ...(options.onRefreshError ? { onRefreshError: options.onRefreshError } : {}),
        watch: options.watch ?? true,
        onSecret: (value) => Secret.registry.add(value),
      });
    } catch (error) {
      for (const close of owned) await close().catch(() => undefined);
      throw error;
    }
    ringForPassword = keyring;
    return new KeysRuntime(config, keyring, appliers, options, owned, followers);
  }

  /** Mints TURN credentials with the active TURN secret (`no_active_key` if there is none). */
  turnCredential(subject: string, ttlSeconds?: number): IssuedTurnCredential {
    const ttl = ttlSeconds ?? Math.floor(this.config.turn.credentialTtlMs / 1000);
    const max = Math.floor(this.config.turn.credentialTtlMs / 1000);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > max) {
      throw new KeysError(
        KeysErrorCode.InvalidRequest,
        `ttlSeconds must be an integer from 1 to ${max}`,
      );
    }
    const { record, material } = this.keyring.requireActive('turn-secret');
    let minted;
    try {
      minted = turnRestCredential(material, subject, ttl, this.keyring.now());
    } catch (error) {
      throw new KeysError(KeysErrorCode.InvalidRequest, (error as Error).message);
    }
    return {
      ...minted,
      uris: this.config.turn.uris,
      keyId: record.id,
      keyFingerprint: record.fingerprint,
    };
  }

  private lastRefresh = 0;
  private pendingRefresh: Promise<void> | null = null;

  /**
   * Re-reads the ring unless that was done in the last 100 ms (callers share one read): for a
   * verifier that met a key id it does not know.
   */
  refreshSoon(): Promise<void> {
    if (this.pendingRefresh) return this.pendingRefresh;
    const wait = Math.max(0, this.lastRefresh + 100 - Date.now());
    this.pendingRefresh = new Promise<void>((resolve) => setTimeout(resolve, wait))
      .then(() => this.keyring.refresh())
      .catch(() => undefined)
      .finally(() => {
        this.lastRefresh = Date.now();
        this.pendingRefresh = null;
      });
    return this.pendingRefresh;
  }

  /** The Redis password processes should use now: the ring's active one, else REDIS_URL's. */
  redisPassword(): string | undefined {
    const active = this.keyring.active('redis-password');
    if (active) return active.material.toString('utf8');
    const fromUrl = decodeURIComponent(new URL(this.config.redis.url.reveal()).password);
    return fromUrl || undefined;
  }

  /**
   * Keeps `client` authenticated with the ring's Redis password: switched (AUTH on the live
   * connection, then used for reconnects) as soon as a rotation is seen.
   */
  followRedis(client: Redis): void {
    this.followers.add(client);
    void this.followRedisPassword();
  }

  private followRetry: NodeJS.Timeout | null = null;

  private async followRedisPassword(): Promise<void> {
    const active = this.keyring.active('redis-password');
    if (!active) return;
    const password = active.material.toString('utf8');
    let failed = false;
    for (const client of this.followers) {
      if (client.options.password === password || client.status === 'end') continue;
      await applyPassword(client, password).catch((error: unknown) => {
        failed = true;
        this.warn(
          `could not switch a Redis connection to the rotated password (retrying every second): ${(error as Error).message}`,
        );
      });
    }
    // A connection that was down keeps the old password for its reconnects until switched.
    if (failed && !this.followRetry) {
      this.followRetry = setTimeout(() => {
        this.followRetry = null;
        void this.followRedisPassword();
      }, 1000);
      this.followRetry.unref();
    }
  }

  async close(): Promise<void> {
    if (this.followRetry) clearTimeout(this.followRetry);
    this.keyring.close();
    for (const close of this.owned) await close().catch(() => undefined);
  }
}

function redisUsername(url: string): string {
  return decodeURIComponent(new URL(url).username) || 'default';
}
