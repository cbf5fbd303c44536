import { createHmac, randomBytes } from 'node:crypto';
import { jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { ClientTokens, TOKEN_AUDIENCE, TOKEN_ISSUER } from './client-tokens.js';
import { KeysErrorCode } from './keys.errors.js';
import type { KeyRecord, RingDocument } from './key-record.js';
import type { KeyStore } from './key-store.js';
import { fingerprintOf } from './key-material.js';
import { aadOf, Keyring } from './keyring.js';
import { MasterKey } from './master-key.js';

const master = MasterKey.parse(randomBytes(32).toString('base64'));
const NOW = Date.parse('2026-11-25T12:00:00Z');

function key(id: string, material: Buffer, over: Partial<KeyRecord> = {}): KeyRecord {
  return {
    id,
    kind: 'client-token',
    createdAt: '2026-11-25T11:00:00.000Z',
    activatedAt: '2026-11-25T11:00:00.000Z',
    retireAt: null,
    retiredAt: null,
    revokedAt: null,
    fingerprint: fingerprintOf('client-token', material),
    sealed: master.seal(material, aadOf({ id, kind: 'client-token' })),
    secretHash: null,
    label: null,
    role: null,
    replaces: null,
    ...over,
  };
}

/** An in-memory store: the unit under test is the verifier, not storage. */
function memoryStore(doc: RingDocument): KeyStore {
  return {
    backend: 'file',
    read: () => Promise.resolve(doc),
    update: () => Promise.reject(new Error('read-only')),
    watch: () => () => undefined,
    close: () => Promise.resolve(),
  };
}

const active = randomBytes(32);
const retiring = randomBytes(32);
const revoked = randomBytes(32);
const retired = randomBytes(32);
let now = NOW;
let ring: Keyring;
let tokens: ClientTokens;

beforeAll(async () => {
  const doc: RingDocument = {
    format: 1,
    version: 1,
    masterKey: master.fingerprint,
    updatedAt: '2026-11-25T11:00:00.000Z',
    keys: [
      key('ct_aaaaaaaaaaaaaaaa', active),
      key('ct_bbbbbbbbbbbbbbbb', retiring, { retireAt: '2026-11-25T12:10:00.000Z' }),
      key('ct_cccccccccccccccc', revoked, { revokedAt: '2026-11-25T11:30:00.000Z' }),
      key('ct_dddddddddddddddd', retired, { retireAt: '2026-11-25T11:59:00.000Z' }),
    ],
    revokedTokens: [{ tokenId: 'revoked-jti', expiresAt: '2026-11-25T13:00:00.000Z' }],
  };
  ring = await Keyring.open({
    store: memoryStore(doc),
    masterKey: master,
    now: () => now,
    watch: false,
  });
  tokens = new ClientTokens(ring, { maxTtlSeconds: 3600, clockSkewSeconds: 5 });
});

beforeEach(() => {
  now = NOW;
});

/** Signs with jose, as any standard JWT library would. */
function sign(
  material: Buffer,
  kid: string,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): Promise<string> {
  const iat = Math.floor(NOW / 1000);
  return new SignJWT({ role: 'host', sessions: ['s1'], ...claims })
    .setProtectedHeader({ alg: 'HS256', kid, ...header })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject('dev-1')
    .setJti(typeof claims.jti === 'string' ? claims.jti : 'jti-1')
    .setIssuedAt(iat)
    .setExpirationTime(iat + 600)
    .sign(material);
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('ClientTokens', () => {
  it('mints with the active key and verifies its own tokens; jose agrees', async () => {
    const minted = await tokens.mint({
      subject: 'dev-1',
      role: 'controller',
      sessions: ['s1', 's2'],
      ttlSeconds: 60,
    });
    expect(minted.keyId).toBe('ct_aaaaaaaaaaaaaaaa');
    const v = tokens.verify(minted.token);
    expect(v).toMatchObject({
      subject: 'dev-1',
      role: 'controller',
      sessions: ['s1', 's2'],
      tokenId: minted.tokenId,
    });
    expect(v.expiresAt.getTime()).toBe(NOW + 60_000);
    const viaJose = await jwtVerify(minted.token, active, {
      algorithms: ['HS256'],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      currentDate: new Date(NOW),
    });
    expect(viaJose.protectedHeader.kid).toBe('ct_aaaaaaaaaaaaaaaa');
  });

  it('accepts a retiring key until its grace ends, then refuses it as retired', async () => {
    const t = await sign(retiring, 'ct_bbbbbbbbbbbbbbbb');
    expect(tokens.verify(t).keyId).toBe('ct_bbbbbbbbbbbbbbbb');
    now = Date.parse('2026-11-25T12:10:00Z');
    expect(code(() => tokens.verify(t))).toBe(KeysErrorCode.TokenKeyRetired);
  });

  it('refuses tokens of a revoked key, and revoked token ids', async () => {
    expect(code(() => tokens.verify(undefined))).toBe(KeysErrorCode.TokenMalformed);
    const byRevokedKey = await sign(revoked, 'ct_cccccccccccccccc');
    expect(code(() => tokens.verify(byRevokedKey))).toBe(KeysErrorCode.TokenKeyRevoked);
    const revokedId = await sign(active, 'ct_aaaaaaaaaaaaaaaa', { jti: 'revoked-jti' });
    expect(code(() => tokens.verify(revokedId))).toBe(KeysErrorCode.TokenRevoked);
  });

  it('refuses expired tokens beyond the clock skew, and tokens from the future', async () => {
    const t = await sign(active, 'ct_aaaaaaaaaaaaaaaa');
    now = NOW + 600_000 + 4_000;
    expect(tokens.verify(t).subject).toBe('dev-1');
    now = NOW + 600_000 + 5_000;
    expect(code(() => tokens.verify(t))).toBe(KeysErrorCode.TokenExpired);
    now = NOW - 10_000;
    expect(code(() => tokens.verify(t))).toBe(KeysErrorCode.TokenNotYetValid);
  });

  it('refuses alg none, other algorithms, crit headers and a missing kid before touching a key', async () => {
    const none = new UnsecuredJWT({ role: 'host', sessions: ['s1'] })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject('dev-1')
      .setJti('x')
      .setIssuedAt()
      .setExpirationTime('10m')
      .encode();
    expect(code(() => tokens.verify(none))).toBe(KeysErrorCode.TokenAlgorithmRefused);
    const noneWithSig = `${none}${'A'.repeat(43)}`;
    expect(code(() => tokens.verify(noneWithSig))).toBe(KeysErrorCode.TokenAlgorithmRefused);
    const hs512 = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS512', kid: 'ct_aaaaaaaaaaaaaaaa' })
      .sign(randomBytes(64));
    expect(code(() => tokens.verify(hs512))).toBe(KeysErrorCode.TokenAlgorithmRefused);
    const crit = await sign(active, 'ct_aaaaaaaaaaaaaaaa', {}, { crit: ['b64'], b64: true });
    expect(code(() => tokens.verify(crit))).toBe(KeysErrorCode.TokenAlgorithmRefused);
    const noKid = await new SignJWT({ role: 'host', sessions: ['s1'] })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(active);
    expect(code(() => tokens.verify(noKid))).toBe(KeysErrorCode.TokenAlgorithmRefused);
  });

  it('refuses an unknown kid, a wrong signature, and a token signed for one kid but naming another', async () => {
    const unknownKid = await sign(active, 'ct_zzzzzzzzzzzzzzzz');
    expect(code(() => tokens.verify(unknownKid))).toBe(KeysErrorCode.TokenKeyUnknown);
    const good = await sign(active, 'ct_aaaaaaaaaaaaaaaa');
    const [h, p] = good.split('.');
    const forged = `${h}.${p}.${createHmac('sha256', randomBytes(32)).update(`${h}.${p}`).digest('base64url')}`;
    expect(code(() => tokens.verify(forged))).toBe(KeysErrorCode.TokenSignatureInvalid);
    const wrongKid = await sign(retiring, 'ct_aaaaaaaaaaaaaaaa');
    expect(code(() => tokens.verify(wrongKid))).toBe(KeysErrorCode.TokenSignatureInvalid);
    // A changed payload with the original signature.
    const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: 'admin' })).toString('base64url')}.${good.split('.')[2]}`;
    expect(code(() => tokens.verify(tampered))).toBe(KeysErrorCode.TokenSignatureInvalid);
  });

  it('refuses malformed and oversized input with token_malformed', () => {
    // An empty header object names no algorithm: refused as such, not as malformed.
    expect(code(() => tokens.verify('e30.e30.'))).toBe(KeysErrorCode.TokenAlgorithmRefused);
    for (const bad of ['', 'abc', 'a.b', 'a.b.c.d', '..', '!!!.e30.sig', 'x'.repeat(5000)]) {
      expect(code(() => tokens.verify(bad))).toBe(KeysErrorCode.TokenMalformed);
    }
  });

  it('refuses tokens with missing or wrong claims (issuer, audience, role, sessions)', async () => {
    const cases: Record<string, unknown>[] = [
      { role: 'admin' },
      { sessions: [] },
      { sessions: 'not-an-array' },
    ];
    for (const claims of cases) {
      expect(code(() => tokens.verify(undefined))).toBeDefined();
      const t = await sign(active, 'ct_aaaaaaaaaaaaaaaa', claims);
      expect(code(() => tokens.verify(t))).toBe(KeysErrorCode.TokenClaimsInvalid);
    }
    const otherIssuer = await new SignJWT({ role: 'host', sessions: ['s1'] })
      .setProtectedHeader({ alg: 'HS256', kid: 'ct_aaaaaaaaaaaaaaaa' })
      .setIssuer('someone-else')
      .setAudience(TOKEN_AUDIENCE)
      .setSubject('dev-1')
      .setJti('j')
      .setIssuedAt(Math.floor(NOW / 1000))
      .setExpirationTime(Math.floor(NOW / 1000) + 60)
      .sign(active);
    expect(code(() => tokens.verify(otherIssuer))).toBe(KeysErrorCode.TokenClaimsInvalid);
  });

  it('validates mint requests', async () => {
    const base = { subject: 'dev-1', role: 'host' as const, sessions: ['s1'], ttlSeconds: 60 };
    await expect(tokens.mint({ ...base, ttlSeconds: 3601 })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(tokens.mint({ ...base, subject: 'has space' })).rejects.toMatchObject({
      code: 'invalid_request',
    });
    await expect(tokens.mint({ ...base, sessions: [] })).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });

  it('never puts key material in an error message', async () => {
    const messages: string[] = [];
    for (const t of [
      await sign(revoked, 'ct_cccccccccccccccc'),
      await sign(randomBytes(32), 'ct_aaaaaaaaaaaaaaaa'),
    ]) {
      try {
        tokens.verify(t);
      } catch (error) {
        messages.push((error as Error).message);
      }
    }
    for (const m of [active, retiring, revoked]) {
      for (const form of [m.toString('base64'), m.toString('base64url'), m.toString('hex')]) {
        expect(messages.join('\n')).not.toContain(form);
      }
    }
  });
});
