import { CATALOGUE, definitionOf } from './catalogue.js';
import { upcast } from '../audit-record.js';
import { AuditErrorCode } from '../audit.errors.js';

describe('audit event catalogue', () => {
  it('names every type <aggregate>.<pastTenseVerb> and has no duplicates', () => {
    const types = CATALOGUE.map((d) => d.type);
    expect(new Set(types).size).toBe(types.length);
    for (const t of types) expect(t).toMatch(/^[a-z]+\.[a-z][A-Za-z]*$/);
  });

  it('has an upcaster for every older version of every type', () => {
    for (const d of CATALOGUE) {
      for (let v = 1; v < d.version; v++)
        expect(typeof (d.upcasters as Record<number, unknown>)[v]).toBe('function');
    }
  });

  it('puts each event in a stream named <aggregate>-<id>', () => {
    expect(definitionOf('connection.opened')!.stream({ connectionId: 'c1' })).toBe('connection-c1');
    expect(definitionOf('session.ended')!.stream({ sessionId: 's1' })).toBe('session-s1');
    expect(definitionOf('audit.checkpointed')!.stream({})).toBe('audit-checkpoints');
  });

  it('refuses payload fields the schema does not name (a secret cannot ride along)', () => {
    const def = definitionOf('key.created')!;
    const ok = { keyId: 'k1', kind: 'turn-secret', fingerprint: 'ab'.repeat(8) };
    expect(def.schema.safeParse(ok).success).toBe(true);
    expect(def.schema.safeParse({ ...ok, secret: 'x' }).success).toBe(false);
  });
});

describe('upcasters', () => {
  it('key.revoked v1 → v2: the per-process disconnected count is dropped', () => {
    const v1 = { keyId: 'k1', kind: 'client-token', fingerprint: 'ab'.repeat(16), disconnected: 3 };
    const { version, data } = upcast('key.revoked', 1, v1);
    expect(version).toBe(2);
    expect(data).toEqual({ keyId: 'k1', kind: 'client-token', fingerprint: 'ab'.repeat(16) });
    expect(definitionOf('key.revoked')!.schema.safeParse(data).success).toBe(true);
  });

  it('operator events v1 → v2: the role was not recorded', () => {
    const action = {
      operatorId: 'op_1',
      action: 'keys.rotate',
      outcome: 'succeeded',
      requestId: 'r1',
    };
    const a = upcast('operator.actionPerformed', 1, action);
    expect(a).toEqual({ version: 2, data: { ...action, role: 'unknown' } });
    expect(definitionOf('operator.actionPerformed')!.schema.safeParse(a.data).success).toBe(true);
    const denied = {
      operatorId: 'op_1',
      action: 'keys.rotate',
      reason: 'forbidden',
      ip: '10.0.0.1',
      requestId: 'r2',
    };
    const d = upcast('operator.accessDenied', 1, denied);
    expect(d).toEqual({ version: 2, data: { ...denied, role: null } });
    expect(definitionOf('operator.accessDenied')!.schema.safeParse(d.data).success).toBe(true);
  });

  it('session.opened v1 → v2: sessions of v1 admitted token holders only', () => {
    const v1 = { sessionId: 's1', hostSubject: 'dev-1', hostPeerId: 'p1', maxPeers: 4 };
    const { version, data } = upcast('session.opened', 1, v1);
    expect(version).toBe(2);
    expect(data).toEqual({ ...v1, joinPolicy: 'token' });
    expect(definitionOf('session.opened')!.schema.safeParse(data).success).toBe(true);
  });

  it('key.rotated v1 → v2: key ids become key references, seconds become milliseconds', () => {
    const v1 = {
      kind: 'client-token',
      oldKeyId: 'client-token-0123456789abcdef',
      newKeyId: 'client-token-fedcba9876543210',
      graceSeconds: 600,
      reason: 'schedule',
    };
    const { version, data } = upcast('key.rotated', 1, v1);
    expect(version).toBe(2);
    expect(data).toEqual({
      kind: 'client-token',
      previous: { keyId: 'client-token-0123456789abcdef', fingerprint: '0123456789abcdef' },
      next: { keyId: 'client-token-fedcba9876543210', fingerprint: 'fedcba9876543210' },
      graceMs: 600_000,
      immediate: false,
      reason: 'schedule',
    });
    expect(definitionOf('key.rotated')!.schema.safeParse(data).success).toBe(true);
  });

  it('key.rotated v1 with no grace was an immediate rotation of the first key', () => {
    const { data } = upcast('key.rotated', 1, {
      kind: 'turn-secret',
      oldKeyId: null,
      newKeyId: 'turn-secret-00112233445566778',
      graceSeconds: 0,
    });
    expect(data).toMatchObject({ previous: null, immediate: true, graceMs: 0 });
  });

  it('leaves the latest version alone and refuses versions from the future or unknown types', () => {
    expect(upcast('job.failed', 1, { a: 1 })).toEqual({ version: 1, data: { a: 1 } });
    expect(() => upcast('session.opened', 3, {})).toThrow(
      expect.objectContaining({ code: AuditErrorCode.InvalidEvent }),
    );
    expect(() => upcast('nope.happened', 1, {})).toThrow(
      expect.objectContaining({ code: AuditErrorCode.UnknownEventType }),
    );
  });
});
