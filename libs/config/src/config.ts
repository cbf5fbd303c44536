import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { ConfigError, ConfigErrorCode, type ConfigIssue } from './config.errors.js';
import type { Secret } from './secret.js';
import { SETTINGS, type RawSettings, type SettingName } from './settings.js';

/** The process kinds; each names itself in logs, traces and audit events. */
export type ServiceName = 'signaling' | 'control' | 'cli';

/** Event store backend settings, as the event-store module needs them. */
export type EventStoreSettings =
  | { readonly backend: 'sqlite'; readonly sqlite: { readonly path: string } }
  | {
      readonly backend: 'postgres';
      readonly postgres: {
        readonly url: Secret;
        readonly schema: string;
        readonly poolMax: number;
      };
    }
  | { readonly backend: 'kurrentdb'; readonly kurrentdb: { readonly url: Secret } };

/** The validated, frozen configuration every sscontrol process runs with. */
export interface Config {
  readonly service: ServiceName;
  readonly env: 'development' | 'production' | 'test';
  readonly instanceId: string;
  readonly dataDir: string;
  readonly logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  readonly signaling: {
    readonly host: string;
    readonly port: number;
    readonly cluster: 'auto' | 'redis' | 'none';
    /** Allowed browser origins; empty: same-origin and no-`Origin` clients only; `*`: any. */
    readonly allowedOrigins: readonly string[];
    /** Proxies whose `X-Forwarded-For` is believed (addresses, CIDRs or `loopback`). */
    readonly trustProxy: readonly string[];
    readonly maxFrameBytes: number;
    readonly messageRate: number;
    readonly messageBurst: number;
    readonly connectionsPerIp: number;
    readonly connectionRatePerIp: number;
    readonly maxConnections: number;
    readonly heartbeatMs: number;
    readonly resumeGraceMs: number;
    readonly maxPeers: number;
    readonly duplicateIdentity: 'replace' | 'refuse';
    readonly joinRequestTimeoutMs: number;
    readonly mailboxSize: number;
    readonly drainTimeoutMs: number;
    readonly tokenRefreshLeadMs: number;
    readonly demo: boolean;
  };
  readonly control: {
    readonly host: string;
    readonly port: number;
    readonly maxBodyBytes: number;
    readonly authFailuresPerMinute: number;
    /** Express `trust proxy` value, or false. */
    readonly trustProxy: string | false;
  };
  readonly keys: {
    /** From SSCONTROL_MASTER_KEY; undefined when unset. */
    readonly masterKey: Secret | undefined;
    readonly masterKeyFile: string | undefined;
    /** Where a development master key is generated when none is configured (null in production). */
    readonly generatedMasterKeyFile: string | null;
    readonly store:
      | { readonly backend: 'file'; readonly file: string }
      | { readonly backend: 'redis' }
      | { readonly backend: 'postgres'; readonly url: Secret; readonly schema: string };
    readonly rotationGraceMs: number;
    readonly clientTokenTtlMs: number;
    readonly clientTokenMaxTtlMs: number;
    readonly clockSkewMs: number;
  };
  readonly turn: {
    readonly realm: string;
    readonly uris: readonly string[];
    readonly credentialTtlMs: number;
    readonly secretSync: 'redis' | 'none';
    /** Redis of coturn's user database (defaults to REDIS_URL). */
    readonly redisUrl: Secret;
  };
  readonly redis: { readonly url: Secret };
  readonly eventStore: EventStoreSettings & {
    readonly batch: {
      readonly maxEvents: number;
      readonly windowMs: number;
      readonly maxPendingEvents: number;
    };
  };
  readonly audit: {
    readonly checkpointEveryEvents: number;
    readonly checkpointEveryMs: number;
    readonly anchorDir: string;
    readonly keysDir: string;
  };
  readonly telemetry: {
    readonly otlpEndpoint: string | undefined;
    readonly otlpHeaders: Secret | undefined;
    readonly sampleRatio: number;
    readonly metricsEnabled: boolean;
  };
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /** Which process is starting. */
  readonly service: ServiceName;
  /** Variables to read. Default: `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** `.env` file merged under the environment (the environment wins). Default: `./.env`; `false` skips it. */
  readonly envFile?: string | false;
  /** Base for relative paths. Default: the working directory. */
  readonly cwd?: string;
}

function readEnvFile(file: string): Record<string, string> {
  if (!existsSync(file)) return {};
  try {
    return parseEnv(readFileSync(file, 'utf8')) as Record<string, string>;
  } catch (error) {
    throw new ConfigError(
      ConfigErrorCode.EnvFileUnreadable,
      `cannot read ${file}: ${(error as Error).message}`,
    );
  }
}

function describeGot(name: SettingName, raw: string | undefined): string {
  if (raw === undefined || raw.trim() === '') return 'it is not set';
  if (SETTINGS[name].secret) return 'got a value that is not shown because it is secret';
  const shown = raw.length > 60 ? `${raw.slice(0, 57)}...` : raw;
  return `got ${JSON.stringify(shown)}`;
}

/**
 * Reads every setting once, validates it, and returns a frozen {@link Config}.
 * Throws a {@link ConfigError} listing every bad variable at once.
 */
export function loadConfig(options: LoadConfigOptions): Config {
  const cwd = options.cwd ?? process.cwd();
  const fileVars =
    options.envFile === false ? {} : readEnvFile(path.resolve(cwd, options.envFile ?? '.env'));
  const env = { ...fileVars, ...(options.env ?? process.env) };

  const issues: ConfigIssue[] = [];
  const values: Partial<Record<SettingName, unknown>> = {};
  for (const name of Object.keys(SETTINGS) as SettingName[]) {
    const setting = SETTINGS[name];
    const raw = env[name];
    const parsed = setting.schema.safeParse(raw);
    if (parsed.success) values[name] = parsed.data;
    else
      issues.push({
        variable: name,
        expected: `expected ${setting.expected}, ${describeGot(name, raw)}`,
      });
  }
  const v = values as RawSettings;
  if (issues.length === 0) {
    if (v.EVENT_STORE === 'postgres' && !v.EVENT_STORE_POSTGRES_URL) {
      issues.push({
        variable: 'EVENT_STORE_POSTGRES_URL',
        expected: `expected ${SETTINGS.EVENT_STORE_POSTGRES_URL.expected}, it is not set`,
      });
    }
    if (v.KEY_STORE === 'postgres' && !v.KEY_STORE_POSTGRES_URL && !v.EVENT_STORE_POSTGRES_URL) {
      issues.push({
        variable: 'KEY_STORE_POSTGRES_URL',
        expected: `expected ${SETTINGS.KEY_STORE_POSTGRES_URL.expected} (or EVENT_STORE_POSTGRES_URL) when KEY_STORE=postgres, it is not set`,
      });
    }
    if (v.NODE_ENV === 'production' && !v.SSCONTROL_MASTER_KEY && !v.SSCONTROL_MASTER_KEY_FILE) {
      issues.push({
        variable: 'SSCONTROL_MASTER_KEY',
        expected: `expected ${SETTINGS.SSCONTROL_MASTER_KEY.expected} (or SSCONTROL_MASTER_KEY_FILE) in production, it is not set`,
      });
    }
    if (v.CLIENT_TOKEN_TTL > v.CLIENT_TOKEN_MAX_TTL) {
      issues.push({
        variable: 'CLIENT_TOKEN_TTL',
        expected: 'expected a duration no longer than CLIENT_TOKEN_MAX_TTL',
      });
    }
    if (v.EVENT_STORE === 'kurrentdb' && !v.KURRENTDB_URL) {
      issues.push({
        variable: 'KURRENTDB_URL',
        expected: `expected ${SETTINGS.KURRENTDB_URL.expected}, it is not set`,
      });
    }
  }
  if (issues.length > 0) {
    throw new ConfigError(
      ConfigErrorCode.Invalid,
      `${issues.length} invalid setting${issues.length === 1 ? '' : 's'}: ${issues.map((i) => i.variable).join(', ')}`,
      issues,
    );
  }

  const dataDir = path.resolve(cwd, v.SSCONTROL_DATA_DIR);
  const inData = (p: string | undefined, fallback: string) =>
    path.resolve(cwd, p ?? path.join(dataDir, fallback));
  const batch = {
    maxEvents: v.EVENT_STORE_BATCH_MAX_EVENTS,
    windowMs: v.EVENT_STORE_BATCH_WINDOW_MS,
    maxPendingEvents: v.EVENT_STORE_MAX_PENDING_EVENTS,
  };
  let eventStore: Config['eventStore'];
  switch (v.EVENT_STORE) {
    case 'sqlite':
      eventStore = {
        backend: 'sqlite',
        sqlite: { path: inData(v.EVENT_STORE_SQLITE_PATH, 'events.db') },
        batch,
      };
      break;
    case 'postgres':
      eventStore = {
        backend: 'postgres',
        postgres: {
          url: v.EVENT_STORE_POSTGRES_URL as Secret,
          schema: v.EVENT_STORE_POSTGRES_SCHEMA,
          poolMax: v.EVENT_STORE_POSTGRES_POOL_MAX,
        },
        batch,
      };
      break;
    case 'kurrentdb':
      eventStore = { backend: 'kurrentdb', kurrentdb: { url: v.KURRENTDB_URL as Secret }, batch };
      break;
  }

  const config: Config = {
    service: options.service,
    env: v.NODE_ENV,
    instanceId: v.SSCONTROL_INSTANCE_ID ?? `${hostname()}-${options.service}`,
    dataDir,
    logLevel: v.LOG_LEVEL,
    signaling: {
      host: v.SIGNALING_HOST,
      port: v.SIGNALING_PORT,
      cluster: v.SIGNALING_CLUSTER,
      allowedOrigins: v.SIGNALING_ALLOWED_ORIGINS,
      trustProxy: v.SIGNALING_TRUST_PROXY,
      maxFrameBytes: v.SIGNALING_MAX_FRAME_BYTES,
      messageRate: v.SIGNALING_MESSAGE_RATE,
      messageBurst: v.SIGNALING_MESSAGE_BURST,
      connectionsPerIp: v.SIGNALING_CONNECTIONS_PER_IP,
      connectionRatePerIp: v.SIGNALING_CONNECTION_RATE_PER_IP,
      maxConnections: v.SIGNALING_MAX_CONNECTIONS,
      heartbeatMs: v.SIGNALING_HEARTBEAT,
      resumeGraceMs: v.SIGNALING_RESUME_GRACE,
      maxPeers: v.SIGNALING_MAX_PEERS,
      duplicateIdentity: v.SIGNALING_DUPLICATE_IDENTITY,
      joinRequestTimeoutMs: v.SIGNALING_JOIN_REQUEST_TIMEOUT,
      mailboxSize: v.SIGNALING_MAILBOX_SIZE,
      drainTimeoutMs: v.SIGNALING_DRAIN_TIMEOUT,
      tokenRefreshLeadMs: v.SIGNALING_TOKEN_REFRESH_LEAD,
      demo: v.SIGNALING_DEMO,
    },
    control: {
      host: v.CONTROL_HOST,
      port: v.CONTROL_PORT,
      maxBodyBytes: v.CONTROL_MAX_BODY_BYTES,
      authFailuresPerMinute: v.CONTROL_AUTH_FAILURES_PER_MINUTE,
      trustProxy: v.CONTROL_TRUST_PROXY ?? false,
    },
    keys: {
      masterKey: v.SSCONTROL_MASTER_KEY,
      masterKeyFile:
        v.SSCONTROL_MASTER_KEY_FILE === undefined
          ? undefined
          : path.resolve(cwd, v.SSCONTROL_MASTER_KEY_FILE),
      generatedMasterKeyFile: v.NODE_ENV === 'production' ? null : path.join(dataDir, 'master.key'),
      store:
        v.KEY_STORE === 'file'
          ? { backend: 'file', file: inData(v.KEY_STORE_FILE, 'keyring.json') }
          : v.KEY_STORE === 'redis'
            ? { backend: 'redis' }
            : {
                backend: 'postgres',
                url: (v.KEY_STORE_POSTGRES_URL ?? v.EVENT_STORE_POSTGRES_URL) as Secret,
                schema: v.EVENT_STORE_POSTGRES_SCHEMA,
              },
      rotationGraceMs: v.KEY_ROTATION_GRACE,
      clientTokenTtlMs: v.CLIENT_TOKEN_TTL,
      clientTokenMaxTtlMs: v.CLIENT_TOKEN_MAX_TTL,
      clockSkewMs: v.CLIENT_TOKEN_CLOCK_SKEW,
    },
    turn: {
      realm: v.TURN_REALM,
      uris: v.TURN_URIS,
      credentialTtlMs: v.TURN_CREDENTIAL_TTL,
      secretSync: v.TURN_SECRET_SYNC,
      redisUrl: (v.TURN_REDIS_URL ?? v.REDIS_URL) as Secret,
    },
    redis: { url: v.REDIS_URL as Secret },
    eventStore,
    audit: {
      checkpointEveryEvents: v.AUDIT_CHECKPOINT_EVERY_EVENTS,
      checkpointEveryMs: v.AUDIT_CHECKPOINT_EVERY_MS,
      anchorDir: inData(v.AUDIT_ANCHOR_DIR, 'audit-anchors'),
      keysDir: inData(v.AUDIT_KEYS_DIR, 'keys'),
    },
    telemetry: {
      otlpEndpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT,
      otlpHeaders: v.OTEL_EXPORTER_OTLP_HEADERS,
      sampleRatio: v.OTEL_TRACES_SAMPLE_RATIO,
      metricsEnabled: v.METRICS_ENABLED,
    },
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    if (value.constructor !== Object) return value;
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Loads the configuration for a process entry point; on failure prints one line per bad variable
 * to stderr and exits with status 78 (EX_CONFIG), before anything else starts.
 */
export function loadConfigOrExit(options: LoadConfigOptions): Config {
  try {
    return loadConfig(options);
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.lines()) process.stderr.write(`${line}\n`);
      process.exit(78);
    }
    throw error;
  }
}

/** Markdown table of every setting, for the README (`sscontrol config doc`). */
export function settingsTable(): string {
  const rows = Object.entries(SETTINGS).map(([name, s]) => {
    const d = 'defaultShown' in s && s.defaultShown !== undefined ? `\`${s.defaultShown}\`` : '—';
    const secret = 'secret' in s && s.secret ? ' _(secret)_' : '';
    return `| \`${name}\` | ${d} | ${s.description}${secret} | ${s.usedBy.join(', ')} |`;
  });
  return ['| Variable | Default | Meaning | Read by |', '| --- | --- | --- | --- |', ...rows].join(
    '\n',
  );
}

/**
 * `.env.example`: every setting, commented out with its default (or an empty value), its meaning
 * above it (`sscontrol config example > .env.example`; a test keeps the file in step).
 */
export function envExample(): string {
  const blocks = Object.entries(SETTINGS).map(([name, s]) => {
    const d = 'defaultShown' in s && s.defaultShown !== undefined ? s.defaultShown : '';
    const secret = 'secret' in s && s.secret ? ' Secret: keep it out of version control.' : '';
    const wrapped = `${s.description}${secret}`.replace(/`/g, '').match(/.{1,96}(\s|$)/g) ?? [];
    return [
      ...wrapped.map((l) => `# ${l.trim()}`),
      `# Expected: ${s.expected}.`,
      `#${name}=${d}`,
    ].join('\n');
  });
  return `# sscontrol settings: copy to .env (or set them in the environment) and uncomment what you change.
# Every variable is validated at start; a bad value stops the process with one line naming it.
# Generated by \`sscontrol config example\`; docs: README.md (Settings).

${blocks.join('\n\n')}
`;
}

/**
 * The event store connection as the event-store library takes it (a structural copy of its
 * `EventStoreSettings`), with the secret URL revealed for the adapter only.
 */
export function eventStoreConnection(config: Config):
  | { backend: 'sqlite'; sqlite: { path: string }; batch: Config['eventStore']['batch'] }
  | {
      backend: 'postgres';
      postgres: { url: string; schema: string; poolMax: number };
      batch: Config['eventStore']['batch'];
    }
  | { backend: 'kurrentdb'; kurrentdb: { url: string }; batch: Config['eventStore']['batch'] } {
  const s = config.eventStore;
  switch (s.backend) {
    case 'sqlite':
      return { backend: 'sqlite', sqlite: { path: s.sqlite.path }, batch: s.batch };
    case 'postgres':
      return {
        backend: 'postgres',
        postgres: {
          url: s.postgres.url.reveal(),
          schema: s.postgres.schema,
          poolMax: s.postgres.poolMax,
        },
        batch: s.batch,
      };
    case 'kurrentdb':
      return { backend: 'kurrentdb', kurrentdb: { url: s.kurrentdb.url.reveal() }, batch: s.batch };
  }
}

/** A URL with its password replaced, for logs and health output. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '[unparseable url]';
  }
}
