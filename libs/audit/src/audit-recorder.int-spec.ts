import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { context } from '@opentelemetry/api';
import {
  createPostgresEventStore,
  createSqliteEventStore,
  type EventStore,
} from '@sscontrol/event-store';
import {
  collect,
  createTestPostgresSchema,
  tempDir,
  type TestPostgresSchema,
} from '@sscontrol/testing';
import { AuditErrorCode } from './audit.errors.js';
import { decodeAuditEvent } from './audit-record.js';
import { AuditRecorder } from './audit-recorder.js';

const source = { service: 'signaling' as const, instance: 'sig-1', version: '1.0.0' };
const actor = { type: 'device' as const, id: 'dev-7', ip: '203.0.113.9' };
const opened = {
  connectionId: 'c-1',
  subject: 'dev-7',
  role: 'host' as const,
  ip: '203.0.113.9',
  tokenId: 'tok-1',
  keyId: 'ct-1',
  keyFingerprint: '0123456789abcdef',
  instance: 'sig-1',
};

async function count(store: EventStore): Promise<number> {
  return (await collect(store.readAll())).length;
}

describe('AuditRecorder on a real store', () => {
  let store: EventStore;
  let dir: ReturnType<typeof tempDir>;
  let recorder: AuditRecorder;
  const failures: string[] = [];

  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    trace.setGlobalTracerProvider(new BasicTracerProvider());
  });

  beforeEach(async () => {
    dir = tempDir();
    store = await createSqliteEventStore({ path: path.join(dir.path, 'events.db') });
    failures.length = 0;
    recorder = new AuditRecorder({
      store,
      source,
      secrets: () => ['correct-horse-battery-staple'],
      onFailure: (type) => failures.push(type),
    });
  });

  afterEach(async () => {
    await store.close();
    dir.remove();
  });

  it("records the common envelope with the payload, in the payload's stream, and reads it back", async () => {
    const tracer = trace.getTracer('test');
    const recorded = await tracer.startActiveSpan('op', async (span) => {
      const r = await recorder.record('connection.opened', opened, {
        actor,
        correlationId: 'req-42',
      });
      span.end();
      return { r, traceId: span.spanContext().traceId, spanId: span.spanContext().spanId };
    });
    expect(recorded.r).toMatchObject({
      streamId: 'connection-c-1',
      revision: 0,
      type: 'connection.opened',
    });
    const [event] = await collect(store.readStream('connection-c-1'));
    const audit = decodeAuditEvent(event!);
    expect(audit.data).toEqual(opened);
    expect(audit.envelope).toMatchObject({
      actor,
      source,
      subjects: {
        connectionId: 'c-1',
        subject: 'dev-7',
        tokenId: 'tok-1',
        keyId: 'ct-1',
        ip: '203.0.113.9',
      },
      correlationId: 'req-42',
      traceId: recorded.traceId,
      spanId: recorded.spanId,
    });
    expect(audit.id).toBe(recorded.r.id);
    expect(audit.recordedAt.getTime()).toBeGreaterThanOrEqual(audit.occurredAt.getTime() - 5);
  });

  it('refuses an invalid payload or an unknown type, recording nothing', async () => {
    await expect(
      recorder.record('connection.opened', { ...opened, ip: 'not-an-ip' }, { actor }),
    ).rejects.toMatchObject({
      code: AuditErrorCode.InvalidEvent,
    });
    await expect(
      recorder.record('nope.happened' as 'job.started', {} as never, { actor }),
    ).rejects.toMatchObject({
      code: AuditErrorCode.UnknownEventType,
    });
    expect(await count(store)).toBe(0);
  });

  it('refuses an event that would carry a secret, recording nothing', async () => {
    await expect(
      recorder.record(
        'connection.closed',
        { connectionId: 'c-1', code: 4001, reason: 'correct-horse-battery-staple', durationMs: 1 },
        { actor },
      ),
    ).rejects.toMatchObject({ code: AuditErrorCode.SecretInEvent });
    expect(await count(store)).toBe(0);
  });

  it('fails closed when the store cannot write: audit_unavailable, nothing recorded, recovers after', async () => {
    await recorder.record('connection.opened', opened, { actor });
    const wal = path.join(dir.path, 'events.db-wal');
    execFileSync('chattr', ['+i', wal]);
    try {
      await expect(
        recorder.record(
          'connection.closed',
          { connectionId: 'c-1', code: 1000, reason: 'bye', durationMs: 5 },
          { actor },
        ),
      ).rejects.toMatchObject({
        code: AuditErrorCode.Unavailable,
      });
      expect(failures).toEqual(['connection.closed']);
    } finally {
      execFileSync('chattr', ['-i', wal]);
    }
    expect((await collect(store.readAll())).map((e) => e.type)).toEqual(['connection.opened']);
    await recorder.record(
      'connection.closed',
      { connectionId: 'c-1', code: 1000, reason: 'bye', durationMs: 5 },
      { actor },
    );
    expect(await count(store)).toBe(2);
  });

  it('fails closed once the store is closed', async () => {
    await store.close();
    await expect(recorder.record('connection.opened', opened, { actor })).rejects.toMatchObject({
      code: AuditErrorCode.Unavailable,
    });
    store = await createSqliteEventStore({ path: path.join(dir.path, 'events.db') });
  });
});

describe('AuditRecorder on PostgreSQL: fail closed', () => {
  let db: TestPostgresSchema;
  let store: EventStore;

  beforeEach(async () => {
    db = await createTestPostgresSchema();
    store = await createPostgresEventStore({
      connectionString: db.url,
      schema: db.schema,
      statementTimeoutMs: 1000,
    });
  });

  afterEach(async () => {
    await store.close();
    await db.drop();
  });

  it('answers audit_unavailable when the events table cannot be written, and records nothing', async () => {
    const recorder = new AuditRecorder({ store, source });
    await db.query(`ALTER TABLE "${db.schema}".events RENAME TO events_gone`);
    await expect(recorder.record('connection.opened', opened, { actor })).rejects.toMatchObject({
      code: AuditErrorCode.Unavailable,
    });
    await db.query(`ALTER TABLE "${db.schema}".events_gone RENAME TO events`);
    expect(await count(store)).toBe(0);
    await recorder.record('connection.opened', opened, { actor });
    expect(await count(store)).toBe(1);
  });

  it('answers audit_unavailable when the server stalls past the statement timeout', async () => {
    const recorder = new AuditRecorder({ store, source });
    const client = await import('pg').then(
      (pg) => new pg.default.Client({ connectionString: db.url }),
    );
    await client.connect();
    await client.query('BEGIN');
    await client.query(`LOCK TABLE "${db.schema}".head IN ACCESS EXCLUSIVE MODE`);
    try {
      await expect(recorder.record('connection.opened', opened, { actor })).rejects.toMatchObject({
        code: AuditErrorCode.Unavailable,
      });
    } finally {
      await client.query('ROLLBACK');
      await client.end();
    }
    expect(await count(store)).toBe(0);
  });
});
