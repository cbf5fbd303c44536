import { createHmac } from 'node:crypto';
import path from 'node:path';
import { Redis } from 'ioredis';
import type { z } from 'zod';
import {
  decodeAuditEvent,
  type Actor,
  type AuditEventType,
  type AuditRecord,
} from '@sscontrol/audit';
import { createSqliteEventStore, type RecordedEvent } from '@sscontrol/event-store';
import { OPERATOR_ROLES, type OperatorRole } from '@sscontrol/keys';
import {
  collect,
  freePort,
  runCli,
  startRedisServer,
  startService,
  tempDir,
  type ServiceProcess,
  type TestRedisServer,
} from '@sscontrol/testing';
import { ENDPOINTS, type Endpoint, type EndpointName } from '../src/api/endpoints.js';

/**
 * The operator API of a control process started from dist/ on the embedded defaults (SQLite,
 * KEY_STORE=file) with a Redis of its own for coturn's secret set: every role against every
 * endpoint, refusals, bad input, the audit trail those calls leave, throttling, OpenAPI, /ready.
 */

const MAX_BODY_BYTES = 4096;
const LOCALHOST = '127.0.0.1';

/** An operator API key the test holds. */
interface Operator {
  readonly role: OperatorRole;
  readonly apiKey: string;
  readonly keyId: string;
  readonly fingerprint: string;
}

interface Reply {
  readonly status: number;
  readonly requestId: string;
  readonly headers: Headers;
  readonly body: unknown;
}

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly requestId: string };
}

/** What one request must have left in the audit trail (operator.* events with its request id). */
interface AuditExpectation {
  readonly label: string;
  readonly requestId: string;
  readonly events: readonly {
    readonly type: 'operator.actionPerformed' | 'operator.accessDenied';
    readonly data: unknown;
    readonly actor: Actor;
  }[];
}

/** A secret the test was handed; no audit event or log line may contain it. */
interface HeldSecret {
  readonly kind: 'api key' | 'api key secret' | 'client token' | 'token signature' | 'turn';
  readonly value: string;
}

type OperatorRecord =
  AuditRecord<'operator.actionPerformed'> | AuditRecord<'operator.accessDenied'>;

/** The records of one type (a cast: AuditRecord's data is not narrowed by its type). */
function ofType<T extends AuditEventType>(
  records: readonly AuditRecord[],
  type: T,
): AuditRecord<T>[] {
  return records.filter((r) => r.type === type) as unknown as AuditRecord<T>[];
}

function operatorRecords(records: readonly AuditRecord[]): OperatorRecord[] {
  return [
    ...ofType(records, 'operator.actionPerformed'),
    ...ofType(records, 'operator.accessDenied'),
  ];
}

const API_KEY = /^ssc_(op_[a-z2-7]{16})\.([A-Za-z0-9_-]{43})$/;

/** The key id of an API key the CLI printed. */
function keyIdOf(apiKey: string): string {
  const m = API_KEY.exec(apiKey);
  if (!m) throw new Error(`not an API key: ${apiKey.slice(0, 12)}…`);
  return m[1]!;
}

function errorOf(reply: Reply): ErrorBody['error'] {
  return (reply.body as ErrorBody).error;
}

/** The `{ error }` body of a refusal, with the request id echoed in the header. */
function expectError(reply: Reply, status: number, code: string): void {
  expect({ status: reply.status, body: reply.body }).toEqual({
    status,
    body: { error: { code, message: expect.any(String), requestId: reply.requestId } },
  });
  expect(reply.requestId).toMatch(/^[0-9a-f-]{36}$/);
}

describe('control API (embedded defaults, private Redis)', () => {
  let dir: ReturnType<typeof tempDir>;
  let redis: TestRedisServer | undefined;
  let control: ServiceProcess | undefined;
  let env: Record<string, string>;
  let base: string;
  const operators = {} as Record<OperatorRole, Operator>;
  const expectations: AuditExpectation[] = [];
  const secrets: HeldSecret[] = [];
  const turnCredentials: { username: string; credential: string }[] = [];

  function holdSecrets(body: unknown): void {
    if (Array.isArray(body)) {
      for (const item of body) holdSecrets(item);
      return;
    }
    if (!body || typeof body !== 'object') return;
    for (const [name, value] of Object.entries(body)) {
      if (typeof value !== 'string') holdSecrets(value);
      else if (name === 'apiKey') {
        secrets.push({ kind: 'api key', value });
        secrets.push({ kind: 'api key secret', value: value.split('.')[1]! });
      } else if (name === 'token') {
        secrets.push({ kind: 'client token', value });
        secrets.push({ kind: 'token signature', value: value.split('.')[2]! });
      } else if (name === 'credential') secrets.push({ kind: 'turn', value });
    }
  }

  async function http(
    url: string,
    method: 'GET' | 'POST',
    init: { bearer?: string; body?: string; contentType?: string } = {},
  ): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (init.bearer !== undefined) headers.authorization = `Bearer ${init.bearer}`;
    if (init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
    const res = await fetch(url, {
      method,
      headers,
      ...(init.body !== undefined ? { body: init.body } : {}),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON (the Swagger UI page): keep the text
    }
    return {
      status: res.status,
      requestId: res.headers.get('x-request-id') ?? '',
      headers: res.headers,
      body,
    };
  }

  function pathOf(endpoint: Endpoint, keyId?: string): string {
    if (!endpoint.path.includes(':keyId')) return endpoint.path;
    if (!keyId) throw new Error(`${endpoint.path} needs a key id`);
    return endpoint.path.replace(':keyId', keyId);
  }

  /**
   * Calls an endpoint as an operator and notes what the trail must show for it: refused by the
   * guard (role not listed) → operator.accessDenied `forbidden`; a POST let through → one
   * operator.actionPerformed, succeeded or failed as answered; a GET → no operator event.
   */
  async function call(
    who: Operator,
    name: EndpointName,
    example: { keyId?: string; body?: unknown } = {},
  ): Promise<Reply> {
    const endpoint: Endpoint = ENDPOINTS[name];
    const reply = await http(`${base}${pathOf(endpoint, example.keyId)}`, endpoint.method, {
      bearer: who.apiKey,
      ...(example.body !== undefined ? { body: JSON.stringify(example.body) } : {}),
    });
    holdSecrets(reply.body);
    const actor: Actor = {
      type: 'operator',
      id: who.keyId,
      ip: LOCALHOST,
      keyFingerprint: who.fingerprint,
    };
    const label = `${who.role} ${endpoint.method} ${endpoint.path} → ${reply.status}`;
    // The guard refuses a role outside the endpoint's roles, and a non-admin rotating API keys.
    if (!(endpoint.roles as readonly string[]).includes(who.role) || reply.status === 403) {
      expectations.push({
        label,
        requestId: reply.requestId,
        events: [
          {
            type: 'operator.accessDenied',
            data: {
              operatorId: who.keyId,
              role: who.role,
              action: endpoint.action,
              reason: 'forbidden',
              ip: LOCALHOST,
              requestId: reply.requestId,
            },
            actor,
          },
        ],
      });
    } else if (endpoint.method === 'POST') {
      const ok = reply.status >= 200 && reply.status < 300;
      expectations.push({
        label,
        requestId: reply.requestId,
        events: [
          {
            type: 'operator.actionPerformed',
            data: expect.objectContaining({
              operatorId: who.keyId,
              role: who.role,
              action: endpoint.action,
              outcome: ok ? 'succeeded' : 'failed',
              requestId: reply.requestId,
              ...(ok ? {} : { error: expect.stringMatching(`^${errorOf(reply).code}: `) }),
            }),
            actor,
          },
        ],
      });
    } else {
      expectations.push({ label, requestId: reply.requestId, events: [] });
    }
    return reply;
  }

  /** A setup call by the admin that must succeed; returns its body parsed by the response schema. */
  async function must<N extends EndpointName>(
    name: N,
    example: { keyId?: string; body?: unknown },
  ): Promise<z.output<(typeof ENDPOINTS)[N]['response']>> {
    const reply = await call(operators.admin, name, example);
    if (reply.status !== ENDPOINTS[name].status) {
      throw new Error(`setup ${name} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    }
    return ENDPOINTS[name].response.parse(reply.body) as z.output<
      (typeof ENDPOINTS)[N]['response']
    >;
  }

  /** A valid request for each endpoint; destructive ones get a fresh target made by the admin. */
  const EXAMPLES = {
    whoami: async () => ({}),
    mintClientToken: async (caller: Operator) => ({
      body: { subject: `device-${caller.role}`, role: 'host', sessions: ['session-1'], ttl: '10m' },
    }),
    revokeClientToken: async (caller: Operator) => {
      const minted = await must('mintClientToken', {
        body: { subject: `lost-${caller.role}`, role: 'controller', sessions: ['session-2'] },
      });
      return {
        body: {
          tokenId: minted.tokenId,
          expiresAt: minted.expiresAt,
          subject: `lost-${caller.role}`,
          reason: 'device reported lost',
        },
      };
    },
    mintTurnCredential: async (caller: Operator) => ({
      body: { subject: `viewer-${caller.role}`, ttl: '10m' },
    }),
    listKeys: async () => ({}),
    rotateKeys: async () => ({
      body: { kinds: ['client-token', 'turn-secret'], grace: '10m', reason: 'scheduled rotation' },
    }),
    revokeKey: async () => {
      const { rotations } = await must('rotateKeys', {
        body: { kinds: ['client-token'], grace: '10m', reason: 'make a retiring key to revoke' },
      });
      const retiring = rotations[0]!.replaced[0]!;
      expect(retiring).toMatchObject({ kind: 'client-token', status: 'retiring' });
      return { keyId: retiring.id, body: { reason: 'key material exposed' } };
    },
    listApiKeys: async () => ({}),
    createApiKey: async (caller: Operator) => ({
      body: { label: `made by ${caller.role}`, role: 'auditor' },
    }),
    revokeApiKey: async (caller: Operator) => {
      const issued = await must('createApiKey', {
        body: { label: `to be revoked by ${caller.role}`, role: 'issuer' },
      });
      return { keyId: issued.key.id, body: { reason: 'operator left' } };
    },
  } satisfies Record<
    EndpointName,
    (caller: Operator) => Promise<{ keyId?: string; body?: unknown }>
  >;

  beforeAll(async () => {
    dir = tempDir('sscontrol-control-api-');
    const [redisServer, port] = await Promise.all([startRedisServer(), freePort()]);
    redis = redisServer;
    env = {
      SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
      REDIS_URL: redis.url,
      CONTROL_HOST: LOCALHOST,
      CONTROL_PORT: String(port),
      CONTROL_AUTH_FAILURES_PER_MINUTE: '1000',
      CONTROL_MAX_BODY_BYTES: String(MAX_BODY_BYTES),
      CLIENT_TOKEN_MAX_TTL: '1h',
      TURN_URIS: 'turn:turn.example.test:3478?transport=udp',
    };
    base = `http://${LOCALHOST}:${port}`;

    const init = await runCli(['init'], env, dir.path);
    if (init.code !== 0) throw new Error(`sscontrol init failed (${init.code}): ${init.stderr}`);
    const adminKey = /^ {2}(ssc_\S+)$/m.exec(init.stdout)?.[1];
    if (!adminKey) throw new Error(`sscontrol init printed no admin key:\n${init.stdout}`);
    const created = await Promise.all(
      (['operator', 'auditor', 'issuer'] as const).map(async (role) => {
        const out = await runCli(
          ['api-keys', 'create', '--label', `e2e ${role}`, '--role', role],
          env,
          dir.path,
        );
        if (out.code !== 0) throw new Error(`api-keys create ${role} failed: ${out.stderr}`);
        return [role, out.stdout.trimEnd().split('\n').at(-1)!] as const;
      }),
    );
    const keys = new Map<OperatorRole, string>([['admin', adminKey], ...created]);
    for (const apiKey of keys.values()) holdSecrets({ apiKey });

    control = startService('control', { ...env, SSCONTROL_INSTANCE_ID: 'e2e-control-a' }, dir.path);
    await control.waitForLog((l) => String(l.msg).endsWith('scheduled jobs started'), 30_000);

    // Fingerprints as the API lists them (cross-checked against key.created in the trail below).
    const listed = await http(`${base}/v1/api-keys`, 'GET', { bearer: adminKey });
    const { keys: infos } = ENDPOINTS.listApiKeys.response.parse(listed.body);
    for (const [role, apiKey] of keys) {
      const info = infos.find((k) => k.id === keyIdOf(apiKey));
      if (!info || info.role !== role) throw new Error(`API key for ${role} not listed`);
      operators[role] = { role, apiKey, keyId: info.id, fingerprint: info.fingerprint };
    }
  }, 120_000);

  afterAll(async () => {
    await control?.stop('SIGKILL');
    await redis?.remove();
    dir?.remove();
  });

  describe('every role against every endpoint', () => {
    const cells = OPERATOR_ROLES.flatMap((role) =>
      (Object.keys(ENDPOINTS) as EndpointName[]).map((name) => {
        const endpoint: Endpoint = ENDPOINTS[name];
        const allowed = (endpoint.roles as readonly string[]).includes(role);
        return {
          role,
          name,
          allowed,
          expected: allowed ? String(endpoint.status) : '403 forbidden',
        };
      }),
    );

    test.each(cells)('$role → $name: $expected', async ({ role, name, allowed }) => {
      const caller = operators[role];
      const example = await EXAMPLES[name](caller);
      const reply = await call(caller, name, example);
      if (allowed) {
        expect({ status: reply.status, body: reply.body }).toEqual({
          status: ENDPOINTS[name].status,
          body: expect.anything(),
        });
        expect(() => ENDPOINTS[name].response.parse(reply.body)).not.toThrow();
        if (name === 'mintTurnCredential') {
          const turn = ENDPOINTS.mintTurnCredential.response.parse(reply.body);
          expect(turn.uris).toEqual([env.TURN_URIS]);
          turnCredentials.push(turn);
        }
        if (name === 'whoami') {
          expect(reply.body).toEqual({ keyId: caller.keyId, role, label: expect.any(String) });
        }
      } else {
        expectError(reply, 403, 'forbidden');
        expect(errorOf(reply).message).toContain(role);
      }
    });

    it('hands out TURN credentials that verify against the secrets synced to Redis', async () => {
      expect(turnCredentials.length).toBe(ENDPOINTS.mintTurnCredential.roles.length);
      const client = new Redis(redis!.url);
      try {
        const synced = await client.smembers('turn/realm/sscontrol/secret');
        // The initial secret plus one per rotation of turn-secret (both still within their grace).
        expect(synced.length).toBeGreaterThanOrEqual(2);
        for (const s of synced) secrets.push({ kind: 'turn', value: s });
        for (const c of turnCredentials) {
          const signers = synced.filter(
            (s) => createHmac('sha1', s).update(c.username).digest('base64') === c.credential,
          );
          expect(signers).toHaveLength(1);
        }
      } finally {
        client.disconnect();
      }
    });
  });

  describe('authentication failures', () => {
    it('answers no key with 401 key_missing', async () => {
      const reply = await http(`${base}/v1/keys/rotate`, 'POST', {
        body: JSON.stringify({ kinds: ['client-token'] }),
      });
      expectError(reply, 401, 'key_missing');
      expect(reply.headers.get('www-authenticate')).toBe('Bearer realm="sscontrol"');
      expectations.push({
        label: 'no key',
        requestId: reply.requestId,
        events: [
          {
            type: 'operator.accessDenied',
            data: {
              operatorId: `anonymous@${LOCALHOST}`,
              role: null,
              action: 'keys.rotate',
              reason: 'key_missing',
              ip: LOCALHOST,
              requestId: reply.requestId,
            },
            actor: { type: 'operator', id: `anonymous@${LOCALHOST}`, ip: LOCALHOST },
          },
        ],
      });
    });

    it('answers a garbage key, and a real key id with a wrong secret, with 401 api_key_invalid', async () => {
      const forged = `ssc_${operators.admin.keyId}.${'A'.repeat(43)}`;
      secrets.push({ kind: 'api key', value: forged });
      for (const [bearer, operatorId] of [
        ['garbage', `anonymous@${LOCALHOST}`],
        [forged, operators.admin.keyId],
      ] as const) {
        const reply = await http(`${base}/v1/whoami`, 'GET', { bearer });
        expectError(reply, 401, 'api_key_invalid');
        expectations.push({
          label: `invalid key ${operatorId}`,
          requestId: reply.requestId,
          events: [
            {
              type: 'operator.accessDenied',
              data: {
                operatorId,
                role: null,
                action: 'operator.whoami',
                reason: 'key_invalid',
                ip: LOCALHOST,
                requestId: reply.requestId,
              },
              actor: { type: 'operator', id: operatorId, ip: LOCALHOST },
            },
          ],
        });
      }
    });

    it('answers a revoked API key with 401 api_key_revoked', async () => {
      const issued = await must('createApiKey', {
        body: { label: 'soon revoked', role: 'operator' },
      });
      const before = await http(`${base}/v1/whoami`, 'GET', { bearer: issued.apiKey });
      expect(before.status).toBe(200);
      await must('revokeApiKey', { keyId: issued.key.id, body: { reason: 'rotation drill' } });

      const reply = await http(`${base}/v1/whoami`, 'GET', { bearer: issued.apiKey });
      expectError(reply, 401, 'api_key_revoked');
      expectations.push({
        label: 'revoked key',
        requestId: reply.requestId,
        events: [
          {
            type: 'operator.accessDenied',
            data: {
              operatorId: issued.key.id,
              role: null,
              action: 'operator.whoami',
              reason: 'key_revoked',
              ip: LOCALHOST,
              requestId: reply.requestId,
            },
            actor: { type: 'operator', id: issued.key.id, ip: LOCALHOST },
          },
        ],
      });
    });
  });

  describe('bad input', () => {
    const raw = (urlPath: string, body: string, contentType?: string) =>
      http(`${base}${urlPath}`, 'POST', {
        bearer: operators.admin.apiKey,
        body,
        ...(contentType ? { contentType } : {}),
      });

    it('answers malformed JSON with 400 invalid_json', async () => {
      expectError(await raw('/v1/client-tokens', '{"subject": "a", '), 400, 'invalid_json');
    });

    it('answers an unknown field with 400 unknown_field, naming it', async () => {
      const reply = await call(operators.admin, 'mintClientToken', {
        body: { subject: 'a', role: 'host', sessions: ['s'], admin: true },
      });
      expectError(reply, 400, 'unknown_field');
      expect(errorOf(reply).message).toContain('admin');
    });

    it('answers a field of the wrong type with 400 invalid_body', async () => {
      const reply = await call(operators.admin, 'mintClientToken', {
        body: { subject: 'a', role: 'host', sessions: 'session-1' },
      });
      expectError(reply, 400, 'invalid_body');
      expect(errorOf(reply).message).toMatch(/^sessions: /);
    });

    it(`accepts a body of CONTROL_MAX_BODY_BYTES (${MAX_BODY_BYTES}) and answers one byte more with 413 body_too_large`, async () => {
      const json = JSON.stringify({ subject: 'padded', ttl: '10m' });
      const atLimit = await raw('/v1/turn-credentials', json.padEnd(MAX_BODY_BYTES, ' '));
      expect(atLimit.status).toBe(201);
      holdSecrets(atLimit.body);
      const over = await raw('/v1/turn-credentials', json.padEnd(MAX_BODY_BYTES + 1, ' '));
      expectError(over, 413, 'body_too_large');
    });

    it('answers a non-JSON content type with 415 unsupported_media_type', async () => {
      const reply = await raw(
        '/v1/client-tokens',
        'subject=a&role=host',
        'application/x-www-form-urlencoded',
      );
      expectError(reply, 415, 'unsupported_media_type');
    });

    it('answers an unknown route with 404 not_found', async () => {
      expectError(await http(`${base}/v1/nothing-here`, 'GET'), 404, 'not_found');
      expectError(await raw('/v1/keys/rotate/now', '{}'), 404, 'not_found');
    });

    it('answers a rotation naming both kinds and all with 400 invalid_body', async () => {
      const reply = await call(operators.admin, 'rotateKeys', {
        body: { kinds: ['client-token'], all: true },
      });
      expectError(reply, 400, 'invalid_body');
    });

    it('answers an issuer trying to rotate with 403 forbidden', async () => {
      const reply = await call(operators.issuer, 'rotateKeys', {
        body: { kinds: ['client-token'] },
      });
      expectError(reply, 403, 'forbidden');
    });

    it('answers an operator rotating operator API keys with 403 forbidden (admin only)', async () => {
      const reply = await call(operators.operator, 'rotateKeys', {
        body: { kinds: ['operator-api'] },
      });
      expectError(reply, 403, 'forbidden');
      const still = await http(`${base}/v1/whoami`, 'GET', { bearer: operators.operator.apiKey });
      expect(still.status).toBe(200);
    });

    it('mints a token for CLIENT_TOKEN_MAX_TTL (1h) and answers a longer one with 400 invalid_request', async () => {
      const body = { subject: 'long-lived', role: 'host', sessions: ['s'] };
      const atMax = await call(operators.admin, 'mintClientToken', {
        body: { ...body, ttl: '1h' },
      });
      expect(atMax.status).toBe(201);
      const over = await call(operators.admin, 'mintClientToken', {
        body: { ...body, ttl: '61m' },
      });
      expectError(over, 400, 'invalid_request');
    });

    it('still answers /health afterwards, with no error logged', async () => {
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(200);
      expect(control!.child.exitCode).toBeNull();
      expect(control!.logs.filter((l) => l.level === 'error' || l.level === 'fatal')).toEqual([]);
    });
  });

  describe('audit trail', () => {
    let raw: RecordedEvent[];
    let records: AuditRecord[];

    beforeAll(async () => {
      const store = await createSqliteEventStore({
        path: path.join(env.SSCONTROL_DATA_DIR!, 'events.db'),
      });
      try {
        raw = await collect(store.readAll());
      } finally {
        await store.close();
      }
      // Every event decodes against the catalogue (payload and envelope).
      records = raw.map((e) => decodeAuditEvent(e));
    });

    it('records every mutating call as operator.actionPerformed and every refusal as operator.accessDenied, with the request id of the response', () => {
      // The role table, its set-up calls, the refusals and the bad input above.
      expect(expectations.length).toBeGreaterThan(
        OPERATOR_ROLES.length * Object.keys(ENDPOINTS).length,
      );
      const byRequest = new Map<string, OperatorRecord[]>();
      for (const r of operatorRecords(records)) {
        byRequest.set(r.data.requestId, [...(byRequest.get(r.data.requestId) ?? []), r]);
      }
      const actual = expectations.map((e) => ({
        label: e.label,
        events: (byRequest.get(e.requestId) ?? []).map((r) => ({
          type: r.type,
          data: r.data,
          actor: r.envelope.actor,
          correlationId: r.envelope.correlationId,
          service: r.envelope.source.service,
        })),
      }));
      const expected = expectations.map((e) => ({
        label: e.label,
        events: e.events.map((event) => ({
          ...event,
          correlationId: e.requestId,
          service: 'control',
        })),
      }));
      expect(actual).toEqual(expected);
    });

    it('shows each operator key with the fingerprint the API reports', () => {
      for (const op of Object.values(operators)) {
        const created = ofType(records, 'key.created').find((r) => r.data.keyId === op.keyId);
        expect(created?.data).toEqual({
          keyId: op.keyId,
          kind: 'operator-api',
          fingerprint: op.fingerprint,
        });
      }
    });

    it('contains no API key, client token or TURN secret the test was handed', () => {
      const kinds = new Set(secrets.map((s) => s.kind));
      expect([...kinds].sort()).toEqual([
        'api key',
        'api key secret',
        'client token',
        'token signature',
        'turn',
      ]);
      const leaks: string[] = [];
      for (const event of raw) {
        const text = JSON.stringify(event.data) + JSON.stringify(event.metadata);
        for (const s of secrets) {
          if (text.includes(s.value)) leaks.push(`${event.type} at ${event.position}: ${s.kind}`);
        }
      }
      expect(leaks).toEqual([]);
      // The scan saw the operator events it is about.
      expect(operatorRecords(records).length).toBeGreaterThanOrEqual(
        expectations.flatMap((e) => e.events).length,
      );
    });

    it('logs none of them either', () => {
      const lines = [...control!.logs.map((l) => JSON.stringify(l)), ...control!.text];
      expect(lines.length).toBeGreaterThan(expectations.length);
      const leaks = secrets.flatMap((s) =>
        lines.filter((line) => line.includes(s.value)).map(() => s.kind),
      );
      expect(leaks).toEqual([]);
    });
  });

  describe('documentation and readiness', () => {
    it('serves the Swagger UI at /docs', async () => {
      const res = await fetch(`${base}/docs`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('swagger-ui');
    });

    it('serves an OpenAPI 3.1 document listing every endpoint with its roles and strict bodies', async () => {
      const res = await fetch(`${base}/docs/openapi.json`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as {
        openapi: string;
        paths: Record<
          string,
          Record<
            string,
            {
              description: string;
              requestBody?: {
                required: boolean;
                content: Record<string, { schema: { additionalProperties?: unknown } }>;
              };
            }
          >
        >;
      };
      expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
      const operations = Object.values(doc.paths).flatMap((p) => Object.keys(p));
      expect(operations).toHaveLength(Object.keys(ENDPOINTS).length);
      for (const endpoint of Object.values(ENDPOINTS) as Endpoint[]) {
        const where = `${endpoint.method} ${endpoint.path}`;
        const op =
          doc.paths[endpoint.path.replace(/:([A-Za-z]+)/g, '{$1}')]?.[
            endpoint.method.toLowerCase()
          ];
        expect({ where, listed: op !== undefined }).toEqual({ where, listed: true });
        const roles = /Roles: ([a-z, ]+)\./.exec(op!.description)?.[1]?.split(', ') ?? [];
        expect({ where, roles: roles.sort() }).toEqual({
          where,
          roles: [...endpoint.roles].sort(),
        });
        if (endpoint.body) {
          expect({ where, required: op!.requestBody?.required }).toEqual({ where, required: true });
          const schema = op!.requestBody?.content['application/json']?.schema;
          expect({ where, additionalProperties: schema?.additionalProperties }).toEqual({
            where,
            additionalProperties: false,
          });
        } else {
          expect({ where, requestBody: op!.requestBody }).toEqual({
            where,
            requestBody: undefined,
          });
        }
      }
    });

    it('answers /ready with 200 and status ok when the store, audit trail, keys, Redis and jobs are up', async () => {
      const res = await fetch(`${base}/ready`);
      const body = (await res.json()) as {
        status: string;
        details: Record<string, { status: string }>;
      };
      expect({ status: res.status, body: body.status }).toEqual({ status: 200, body: 'ok' });
      expect(Object.keys(body.details).sort()).toEqual([
        'audit',
        'eventStore',
        'jobs',
        'keys',
        'redis',
      ]);
      for (const check of Object.values(body.details)) expect(check.status).toBe('up');
    });
  });

  describe('throttling (a second control process, CONTROL_AUTH_FAILURES_PER_MINUTE=3)', () => {
    let throttled: ServiceProcess | undefined;
    let throttledBase: string;

    beforeAll(async () => {
      const port = await freePort();
      throttledBase = `http://${LOCALHOST}:${port}`;
      throttled = startService(
        'control',
        {
          ...env,
          SSCONTROL_INSTANCE_ID: 'e2e-control-b',
          CONTROL_PORT: String(port),
          CONTROL_AUTH_FAILURES_PER_MINUTE: '3',
        },
        dir.path,
      );
      await throttled.waitForLog((l) => String(l.msg).startsWith('control API listening'), 30_000);
    }, 60_000);

    afterAll(async () => {
      await throttled?.stop('SIGKILL');
    });

    it('answers 429 throttled with Retry-After after 3 failures, even for a valid key, recording the block once', async () => {
      const whoami = (bearer: string) => http(`${throttledBase}/v1/whoami`, 'GET', { bearer });
      expect((await whoami(operators.auditor.apiKey)).status).toBe(200);

      const failures: Reply[] = [];
      for (let i = 0; i < 3; i++) failures.push(await whoami(`not-a-key-${i}`));
      for (const f of failures) expectError(f, 401, 'api_key_invalid');

      const blocked = [await whoami(operators.admin.apiKey), await whoami('not-a-key-3')];
      for (const b of blocked) {
        expectError(b, 429, 'throttled');
        const retryAfter = Number(b.headers.get('retry-after'));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(60);
      }
      // /health is not behind the operator guard: the blocked address still sees it.
      expect((await fetch(`${throttledBase}/health`)).status).toBe(200);

      const store = await createSqliteEventStore({
        path: path.join(env.SSCONTROL_DATA_DIR!, 'events.db'),
      });
      const records = (await collect(store.readAll())).map((e) => decodeAuditEvent(e));
      await store.close();
      const denied = ofType(records, 'operator.accessDenied');
      const throttles = denied.filter((r) => r.data.reason === 'throttled');
      expect(throttles.map((r) => r.data)).toEqual([
        {
          operatorId: `anonymous@${LOCALHOST}`,
          role: null,
          action: 'operator.whoami',
          reason: 'throttled',
          ip: LOCALHOST,
          requestId: failures[2]!.requestId,
        },
      ]);
      for (const f of failures) {
        expect(
          denied.filter((r) => r.data.requestId === f.requestId && r.data.reason === 'key_invalid'),
        ).toHaveLength(1);
      }
      for (const b of blocked) {
        expect(operatorRecords(records).filter((r) => r.data.requestId === b.requestId)).toEqual(
          [],
        );
      }
    });
  });
});
