import { z } from 'zod';
import { Secret } from './secret.js';

/**
 * One environment variable: how it is parsed, what it is for, and what a bad value is told.
 * The README's settings table is generated from these definitions (`sscontrol config doc`).
 */
export interface SettingDefinition<T> {
  /** Parses the raw string (undefined when unset or empty). */
  readonly schema: z.ZodType<T, string | undefined>;
  /** What a valid value looks like, used in the one-line error: "expected …". */
  readonly expected: string;
  /** What the setting does. */
  readonly description: string;
  /** The default as shown in docs, or undefined when the setting is optional or required. */
  readonly defaultShown?: string;
  /** Secret values are never echoed back in errors and are typed {@link Secret}. */
  readonly secret?: boolean;
  /** Which processes read it. */
  readonly usedBy: readonly ('signaling' | 'control' | 'cli' | 'all')[];
}

function def<T>(d: SettingDefinition<T>): SettingDefinition<T> {
  return d;
}

const blankToUndefined = (v: string | undefined): string | undefined =>
  v === undefined || v.trim() === '' ? undefined : v.trim();

function str(): z.ZodType<string | undefined, string | undefined>;
function str(defaultValue: string): z.ZodType<string, string | undefined>;
function str(defaultValue?: string): z.ZodType<string | undefined, string | undefined> {
  return z
    .string()
    .optional()
    .transform(blankToUndefined)
    .transform((v) => v ?? defaultValue);
}

function int(min: number, max: number, defaultValue: number) {
  return z
    .string()
    .optional()
    .transform(blankToUndefined)
    .pipe(
      z
        .string()
        .regex(/^-?\d+$/)
        .transform(Number)
        .pipe(z.number().int().min(min).max(max))
        .optional(),
    )
    .transform((v) => v ?? defaultValue);
}

function ratio(defaultValue: number) {
  return z
    .string()
    .optional()
    .transform(blankToUndefined)
    .pipe(
      z
        .string()
        .regex(/^\d+(\.\d+)?$/)
        .transform(Number)
        .pipe(z.number().min(0).max(1))
        .optional(),
    )
    .transform((v) => v ?? defaultValue);
}

function oneOf<const T extends readonly [string, ...string[]]>(values: T, defaultValue: T[number]) {
  return z
    .string()
    .optional()
    .transform(blankToUndefined)
    .pipe(z.enum(values).optional())
    .transform((v) => v ?? defaultValue);
}

function bool(defaultValue: boolean) {
  return z
    .string()
    .optional()
    .transform(blankToUndefined)
    .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no']).optional())
    .transform((v) => (v === undefined ? defaultValue : ['true', '1', 'yes'].includes(v)));
}

function url(protocols: readonly string[], defaultValue?: string) {
  return z
    .string()
    .optional()
    .transform(blankToUndefined)
    .transform((v) => v ?? defaultValue)
    .pipe(
      z
        .string()
        .refine((v) => {
          try {
            return protocols.includes(new URL(v).protocol);
          } catch {
            return false;
          }
        })
        .optional(),
    );
}

function secretUrl(protocols: readonly string[], defaultValue?: string) {
  return url(protocols, defaultValue).transform((v) => {
    if (v === undefined) return undefined;
    const password = decodeURIComponent(new URL(v).password);
    // Only credentials are scrubbed from logs; host and port stay readable for operators.
    return new Secret(v, password ? [password, v] : []);
  });
}

function secret() {
  return z
    .string()
    .optional()
    .transform(blankToUndefined)
    .transform((v) => (v === undefined ? undefined : new Secret(v)));
}

/** Parses `90`, `90s`, `10m`, `2h`, `1d` (a bare number is seconds) into milliseconds. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,9})(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) return null;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? 's']!;
  return Number(m[1]) * unit;
}

function duration(defaultValue: string, minMs: number, maxMs: number) {
  return z
    .string()
    .optional()
    .transform(blankToUndefined)
    .transform((v) => v ?? defaultValue)
    .pipe(
      z
        .string()
        .transform((v) => parseDuration(v))
        .pipe(z.number().int().min(minMs).max(maxMs)),
    );
}

function list(pattern: RegExp) {
  return z
    .string()
    .optional()
    .transform(blankToUndefined)
    .transform((v) =>
      v === undefined
        ? []
        : v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean),
    )
    .pipe(z.array(z.string().regex(pattern)));
}

const host = (d: string) => str(d).pipe(z.string().regex(/^[A-Za-z0-9.:[\]-]+$/));

/** Every setting sscontrol reads, by environment variable name. */
export const SETTINGS = {
  NODE_ENV: def({
    schema: oneOf(['development', 'production', 'test'] as const, 'development'),
    expected: 'one of development, production, test',
    description:
      'Runtime mode, as in every Node.js service (`production` in the shipped deployment files).',
    defaultShown: 'development',
    usedBy: ['all'],
  }),
  SSCONTROL_DATA_DIR: def({
    schema: str('./var'),
    expected: 'a directory path',
    description:
      'Where the embedded mode keeps its data: the SQLite event store, keys, audit anchors and backups. Relative paths are resolved against the working directory.',
    defaultShown: './var',
    usedBy: ['all'],
  }),
  SSCONTROL_INSTANCE_ID: def({
    schema: str().pipe(
      z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,64}$/)
        .optional(),
    ),
    expected: '1-64 characters of A-Z a-z 0-9 . _ -',
    description:
      'Name of this process in audit events, traces and metrics. Defaults to `<hostname>-<service>`.',
    usedBy: ['all'],
  }),
  LOG_LEVEL: def({
    schema: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, 'info'),
    expected: 'one of trace, debug, info, warn, error, fatal, silent',
    description: 'Minimum level of the JSON log lines written to stdout.',
    defaultShown: 'info',
    usedBy: ['all'],
  }),
  SIGNALING_HOST: def({
    schema: host('0.0.0.0'),
    expected: 'an IP address or host name to listen on',
    description: 'Address the signaling gateway listens on.',
    defaultShown: '0.0.0.0',
    usedBy: ['signaling'],
  }),
  SIGNALING_PORT: def({
    schema: int(0, 65535, 8080),
    expected: 'an integer port from 0 to 65535',
    description: 'Port of the signaling gateway: WebSocket `/ws`, `/health`, `/metrics`.',
    defaultShown: '8080',
    usedBy: ['signaling'],
  }),
  SIGNALING_CLUSTER: def({
    schema: oneOf(['auto', 'redis', 'none'] as const, 'auto'),
    expected: 'auto, redis or none',
    description:
      '`redis`: share sessions, routing, presence, bans and lockdown with the other instances through `REDIS_URL` (wait for it at start). `none`: one instance, state in memory. `auto`: `redis` when Redis answers at start, else `none` (logged).',
    defaultShown: 'auto',
    usedBy: ['signaling'],
  }),
  SIGNALING_ALLOWED_ORIGINS: def({
    schema: list(/^(\*|https?:\/\/[A-Za-z0-9.-]+(:\d{1,5})?)$/),
    expected: 'comma-separated origins (https://app.example.com), or *',
    description:
      'Browser `Origin`s allowed to open a socket (no cross-site socket hijacking). Unset: only same-origin pages (the demo) and clients that send no `Origin` (native apps). `*` allows any.',
    usedBy: ['signaling'],
  }),
  SIGNALING_TRUST_PROXY: def({
    schema: list(/^(loopback|[0-9a-fA-F.:]+(\/\d{1,3})?)$/),
    expected: 'comma-separated proxy addresses/CIDRs, or loopback',
    description:
      'Proxies (nginx) whose `X-Forwarded-For` the gateway believes for the client address (audit, limits, bans). Unset: the socket address is the client.',
    usedBy: ['signaling'],
  }),
  SIGNALING_MAX_FRAME_BYTES: def({
    schema: int(1024, 65_536, 65_536),
    expected: 'an integer from 1024 to 65536',
    description: 'Largest frame a client may send; a larger one closes the connection (1009).',
    defaultShown: '65536',
    usedBy: ['signaling'],
  }),
  SIGNALING_MESSAGE_RATE: def({
    schema: int(1, 100_000, 100),
    expected: 'an integer from 1 to 100000',
    description:
      'Messages per second one connection may send on average (token bucket); beyond it requests get `rate_limited`.',
    defaultShown: '100',
    usedBy: ['signaling'],
  }),
  SIGNALING_MESSAGE_BURST: def({
    schema: int(1, 1_000_000, 400),
    expected: 'an integer from 1 to 1000000',
    description:
      'Messages one connection may send at once above the rate (an ICE burst). Sustained abuse (10× the burst refused) closes the connection with 4429.',
    defaultShown: '400',
    usedBy: ['signaling'],
  }),
  SIGNALING_CONNECTIONS_PER_IP: def({
    schema: int(1, 1_000_000, 50),
    expected: 'an integer from 1 to 1000000',
    description:
      'Open connections one client address (IPv6: one /64) may hold on one instance (4429 beyond).',
    defaultShown: '50',
    usedBy: ['signaling'],
  }),
  SIGNALING_CONNECTION_RATE_PER_IP: def({
    schema: int(1, 1_000_000, 120),
    expected: 'an integer from 1 to 1000000',
    description:
      'New connections per minute from one client address on one instance (4429 beyond).',
    defaultShown: '120',
    usedBy: ['signaling'],
  }),
  SIGNALING_MAX_CONNECTIONS: def({
    schema: int(1, 10_000_000, 50_000),
    expected: 'an integer from 1 to 10000000',
    description: 'Open connections one instance accepts in all (4429 beyond).',
    defaultShown: '50000',
    usedBy: ['signaling'],
  }),
  SIGNALING_HEARTBEAT: def({
    schema: duration('15s', 1000, 300_000),
    expected: 'a duration from 1s to 5m',
    description:
      'How often the gateway pings each socket; a connection silent for two intervals is dead (closed 4408, its session held for `SIGNALING_RESUME_GRACE`).',
    defaultShown: '15s',
    usedBy: ['signaling'],
  }),
  SIGNALING_RESUME_GRACE: def({
    schema: duration('30s', 1000, 3_600_000),
    expected: 'a duration from 1s to 1h',
    description:
      'How long a dropped peer keeps its place in its session and its undelivered messages; after it, its peers get `peer.left` (`resume-expired`).',
    defaultShown: '30s',
    usedBy: ['signaling'],
  }),
  SIGNALING_MAX_PEERS: def({
    schema: int(2, 1000, 16),
    expected: 'an integer from 2 to 1000',
    description: 'Most peers (host included) a session may be opened with.',
    defaultShown: '16',
    usedBy: ['signaling'],
  }),
  SIGNALING_DUPLICATE_IDENTITY: def({
    schema: oneOf(['replace', 'refuse'] as const, 'replace'),
    expected: 'replace or refuse',
    description:
      'When a subject already in a session joins it again from another connection: `replace` closes the old one (4409), `refuse` answers the new one `duplicate_identity`.',
    defaultShown: 'replace',
    usedBy: ['signaling'],
  }),
  SIGNALING_JOIN_REQUEST_TIMEOUT: def({
    schema: duration('60s', 1000, 3_600_000),
    expected: 'a duration from 1s to 1h',
    description: 'How long a join request waits for the host of an `ask-host` session.',
    defaultShown: '60s',
    usedBy: ['signaling'],
  }),
  SIGNALING_MAILBOX_SIZE: def({
    schema: int(16, 100_000, 1024),
    expected: 'an integer from 16 to 100000',
    description:
      'Unacknowledged session messages kept per peer for redelivery on resume; a resume that needs older ones fails (`resume_failed`) rather than silently skip them.',
    defaultShown: '1024',
    usedBy: ['signaling'],
  }),
  SIGNALING_DRAIN_TIMEOUT: def({
    schema: duration('10s', 0, 300_000),
    expected: 'a duration from 0 to 5m',
    description:
      'On SIGTERM: how long the gateway waits for clients to go after telling them to reconnect elsewhere (4100) before it closes the rest.',
    defaultShown: '10s',
    usedBy: ['signaling'],
  }),
  SIGNALING_TOKEN_REFRESH_LEAD: def({
    schema: duration('60s', 1000, 3_600_000),
    expected: 'a duration from 1s to 1h',
    description:
      'How long before its token expires a connection is sent `token.expiring`; a token that expires unrefreshed closes the connection (4403).',
    defaultShown: '60s',
    usedBy: ['signaling'],
  }),
  SIGNALING_DEMO: def({
    schema: bool(true),
    expected: 'true or false',
    description: 'Serve the demo page (host shares its screen, controller steers it) at `/demo/`.',
    defaultShown: 'true',
    usedBy: ['signaling'],
  }),
  CONTROL_HOST: def({
    schema: host('0.0.0.0'),
    expected: 'an IP address or host name to listen on',
    description: 'Address the control API listens on.',
    defaultShown: '0.0.0.0',
    usedBy: ['control'],
  }),
  CONTROL_PORT: def({
    schema: int(0, 65535, 8081),
    expected: 'an integer port from 0 to 65535',
    description: 'Port of the control API: `/health`, `/metrics`, the operator API.',
    defaultShown: '8081',
    usedBy: ['control'],
  }),
  REDIS_URL: def({
    schema: secretUrl(['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
    expected: 'a redis:// or rediss:// URL',
    description:
      'Redis for scheduled jobs and multi-instance signaling. Without it signaling runs as a single instance and jobs wait until it appears.',
    defaultShown: 'redis://127.0.0.1:6379',
    secret: true,
    usedBy: ['signaling', 'control'],
  }),
  EVENT_STORE: def({
    schema: oneOf(['sqlite', 'postgres', 'kurrentdb'] as const, 'sqlite'),
    expected: 'one of sqlite, postgres, kurrentdb',
    description: 'Event store backend of the audit trail.',
    defaultShown: 'sqlite',
    usedBy: ['all'],
  }),
  EVENT_STORE_SQLITE_PATH: def({
    schema: str(),
    expected: 'a file path',
    description: 'SQLite database file. Defaults to `<SSCONTROL_DATA_DIR>/events.db`.',
    usedBy: ['all'],
  }),
  EVENT_STORE_POSTGRES_URL: def({
    schema: secretUrl(['postgres:', 'postgresql:']),
    expected: 'a postgres:// URL (required when EVENT_STORE=postgres)',
    description: 'PostgreSQL connection URL of the event store.',
    secret: true,
    usedBy: ['all'],
  }),
  EVENT_STORE_POSTGRES_SCHEMA: def({
    schema: str('sscontrol').pipe(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/)),
    expected: 'a lower-case SQL identifier',
    description: 'Schema that holds the event store tables (created by `sscontrol migrate`).',
    defaultShown: 'sscontrol',
    usedBy: ['all'],
  }),
  EVENT_STORE_POSTGRES_POOL_MAX: def({
    schema: int(2, 200, 10),
    expected: 'an integer from 2 to 200',
    description: 'Maximum PostgreSQL connections per process.',
    defaultShown: '10',
    usedBy: ['all'],
  }),
  KURRENTDB_URL: def({
    schema: secretUrl([
      'kurrentdb:',
      'kurrent:',
      'kdb:',
      'esdb:',
      'kurrentdb+discover:',
      'kdb+discover:',
      'esdb+discover:',
    ]),
    expected: 'a kurrentdb:// connection string (required when EVENT_STORE=kurrentdb)',
    description: 'KurrentDB / EventStoreDB connection string.',
    secret: true,
    usedBy: ['all'],
  }),
  EVENT_STORE_BATCH_MAX_EVENTS: def({
    schema: int(1, 10_000, 1000),
    expected: 'an integer from 1 to 10000',
    description: 'Group commit: most events committed in one transaction.',
    defaultShown: '1000',
    usedBy: ['all'],
  }),
  EVENT_STORE_BATCH_WINDOW_MS: def({
    schema: int(0, 100, 0),
    expected: 'an integer from 0 to 100',
    description:
      'Group commit: how long a commit waits for more appends. 0 commits as soon as the previous commit is done (appends arriving meanwhile share the next commit).',
    defaultShown: '0',
    usedBy: ['all'],
  }),
  EVENT_STORE_MAX_PENDING_EVENTS: def({
    schema: int(100, 10_000_000, 100_000),
    expected: 'an integer from 100 to 10000000',
    description:
      'Appends queued beyond this are refused with `event_store_overloaded` instead of growing memory without bound.',
    defaultShown: '100000',
    usedBy: ['all'],
  }),
  AUDIT_CHECKPOINT_EVERY_EVENTS: def({
    schema: int(1, 1_000_000, 10_000),
    expected: 'an integer from 1 to 1000000',
    description: 'A signed checkpoint seals the trail at least every this many events…',
    defaultShown: '10000',
    usedBy: ['all'],
  }),
  AUDIT_CHECKPOINT_EVERY_MS: def({
    schema: int(100, 3_600_000, 60_000),
    expected: 'an integer from 100 to 3600000',
    description: '…and at least this often while events arrive.',
    defaultShown: '60000',
    usedBy: ['all'],
  }),
  AUDIT_ANCHOR_DIR: def({
    schema: str(),
    expected: 'a directory path',
    description:
      'Directory outside the store where every signed checkpoint and the checkpoint public keys are also written, so truncation or rollback of the store is detected. Put it on other storage in production. Defaults to `<SSCONTROL_DATA_DIR>/audit-anchors`.',
    usedBy: ['all'],
  }),
  AUDIT_KEYS_DIR: def({
    schema: str(),
    expected: 'a directory path',
    description:
      'Directory of the Ed25519 checkpoint signing keys (mode 0600). Defaults to `<SSCONTROL_DATA_DIR>/keys`.',
    usedBy: ['all'],
  }),
  SSCONTROL_MASTER_KEY: def({
    schema: secret().pipe(
      z
        .custom<Secret | undefined>(
          (v) =>
            v === undefined ||
            /^([0-9a-fA-F]{64}|[A-Za-z0-9+/_-]{43}=?)$/.test((v as Secret).reveal()),
        )
        .optional(),
    ),
    expected:
      '32 random bytes as base64 (44 characters) or hex (64 characters): `openssl rand -base64 32`',
    description:
      'Master key that seals every secret in the key store (AES-256-GCM). Required in production. Elsewhere, when unset, one is generated once into `<SSCONTROL_DATA_DIR>/master.key` (mode 0600) with a warning.',
    secret: true,
    usedBy: ['all'],
  }),
  SSCONTROL_MASTER_KEY_FILE: def({
    schema: str(),
    expected: 'a file path',
    description:
      'Reads the master key from this file instead (Docker/systemd credentials). Ignored when `SSCONTROL_MASTER_KEY` is set.',
    usedBy: ['all'],
  }),
  KEY_STORE: def({
    schema: oneOf(['file', 'redis', 'postgres'] as const, 'file'),
    expected: 'one of file, redis, postgres',
    description:
      'Where the key ring lives: a file under the data dir (one host), or Redis / PostgreSQL shared by every instance. Rotations reach every instance within a second through the store itself.',
    defaultShown: 'file',
    usedBy: ['all'],
  }),
  KEY_STORE_FILE: def({
    schema: str(),
    expected: 'a file path',
    description:
      'Key ring file when `KEY_STORE=file`. Defaults to `<SSCONTROL_DATA_DIR>/keyring.json`.',
    usedBy: ['all'],
  }),
  KEY_STORE_POSTGRES_URL: def({
    schema: secretUrl(['postgres:', 'postgresql:']),
    expected: 'a postgres:// URL',
    description:
      'PostgreSQL of the key ring when `KEY_STORE=postgres`. Defaults to `EVENT_STORE_POSTGRES_URL` (same schema, `keyring` table, created by `sscontrol migrate`).',
    secret: true,
    usedBy: ['all'],
  }),
  KEY_ROTATION_GRACE: def({
    schema: duration('10m', 0, 30 * 86_400_000),
    expected: 'a duration such as 90s, 10m, 2h, 1d (at most 30d)',
    description:
      'How long a replaced client-token key, operator API key or Redis password keeps working after a rotation without `--grace`/`--immediate` (the TURN secret uses TURN_CREDENTIAL_TTL).',
    defaultShown: '10m',
    usedBy: ['all'],
  }),
  CLIENT_TOKEN_TTL: def({
    schema: duration('15m', 1000, 86_400_000),
    expected: 'a duration from 1s to 1d',
    description: 'Lifetime of a client token minted without an explicit one.',
    defaultShown: '15m',
    usedBy: ['control', 'signaling'],
  }),
  CLIENT_TOKEN_MAX_TTL: def({
    schema: duration('1d', 1000, 7 * 86_400_000),
    expected: 'a duration from 1s to 7d',
    description: 'Longest lifetime a client token may be minted with.',
    defaultShown: '1d',
    usedBy: ['control', 'signaling', 'cli'],
  }),
  CLIENT_TOKEN_CLOCK_SKEW: def({
    schema: duration('5s', 0, 300_000),
    expected: 'a duration from 0 to 5m',
    description: "Clock difference tolerated on a client token's expiry and issue time.",
    defaultShown: '5s',
    usedBy: ['signaling'],
  }),
  TURN_REALM: def({
    schema: str('sscontrol').pipe(z.string().regex(/^[A-Za-z0-9.-]{1,253}$/)),
    expected: 'a realm name (letters, digits, dots, dashes)',
    description: 'coturn realm; its secret set in Redis is `turn/realm/<realm>/secret`.',
    defaultShown: 'sscontrol',
    usedBy: ['all'],
  }),
  TURN_URIS: def({
    schema: list(/^(turns?|stuns?):[^\s,]+$/),
    expected: 'comma-separated turn:, turns:, stun: URIs',
    description:
      'ICE server URIs handed out with TURN credentials, e.g. `turn:turn.example.com:3478?transport=udp,turns:turn.example.com:5349`.',
    usedBy: ['control', 'signaling'],
  }),
  TURN_CREDENTIAL_TTL: def({
    schema: duration('1h', 60_000, 86_400_000),
    expected: 'a duration from 1m to 1d',
    description:
      "Lifetime of TURN credentials; a replaced TURN secret stays in coturn's set for this long so that credentials already handed out keep working.",
    defaultShown: '1h',
    usedBy: ['all'],
  }),
  TURN_SECRET_SYNC: def({
    schema: oneOf(['redis', 'none'] as const, 'redis'),
    expected: 'redis or none',
    description:
      "`redis`: keep coturn's secret set (`redis-userdb`) equal to the ring's TURN secrets. `none`: coturn is configured by other means.",
    defaultShown: 'redis',
    usedBy: ['all'],
  }),
  TURN_REDIS_URL: def({
    schema: secretUrl(['redis:', 'rediss:']),
    expected: 'a redis:// URL (the path selects the database coturn reads)',
    description: 'Redis that coturn uses as its user database. Defaults to `REDIS_URL`.',
    secret: true,
    usedBy: ['all'],
  }),
  CONTROL_MAX_BODY_BYTES: def({
    schema: int(1024, 1_048_576, 16_384),
    expected: 'an integer from 1024 to 1048576',
    description: 'Largest request body the control API accepts (larger: 413 `body_too_large`).',
    defaultShown: '16384',
    usedBy: ['control'],
  }),
  CONTROL_AUTH_FAILURES_PER_MINUTE: def({
    schema: int(1, 10_000, 10),
    expected: 'an integer from 1 to 10000',
    description:
      'Failed authentications from one address within a minute before the control API answers that address 429 `throttled` for a minute.',
    defaultShown: '10',
    usedBy: ['control'],
  }),
  CONTROL_TRUST_PROXY: def({
    schema: str().pipe(
      z
        .string()
        .regex(/^[0-9a-fA-F.:/, ]+$|^loopback$/)
        .optional(),
    ),
    expected: 'loopback, or comma-separated proxy addresses/CIDRs',
    description:
      'Proxies whose `X-Forwarded-For` the control API believes (for audit and throttling). Unset: the socket address is the client.',
    usedBy: ['control'],
  }),
  OTEL_EXPORTER_OTLP_ENDPOINT: def({
    schema: url(['http:', 'https:']),
    expected: 'an http(s):// URL of an OTLP/HTTP receiver',
    description:
      'When set, traces are exported over OTLP/HTTP to `<endpoint>/v1/traces`. Unset: spans are still created (trace ids in logs and events) but not exported.',
    usedBy: ['all'],
  }),
  OTEL_EXPORTER_OTLP_HEADERS: def({
    schema: secret(),
    expected: 'comma-separated key=value pairs',
    description: 'Headers sent with OTLP exports (e.g. an API key).',
    secret: true,
    usedBy: ['all'],
  }),
  OTEL_TRACES_SAMPLE_RATIO: def({
    schema: ratio(1),
    expected: 'a number from 0 to 1',
    description: 'Share of new traces sampled (parent decisions are followed).',
    defaultShown: '1',
    usedBy: ['all'],
  }),
  METRICS_ENABLED: def({
    schema: bool(true),
    expected: 'true or false',
    description: 'Serve Prometheus metrics at `/metrics`.',
    defaultShown: 'true',
    usedBy: ['signaling', 'control'],
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
export type RawSettings = {
  [K in SettingName]: z.output<(typeof SETTINGS)[K]['schema']>;
};
