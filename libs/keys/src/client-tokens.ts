import { createHmac, timingSafeEqual } from 'node:crypto';
import { SignJWT } from 'jose';
import { uuidv7 } from '@sscontrol/event-store';
import { KeysError, KeysErrorCode } from './keys.errors.js';
import type { Keyring } from './keyring.js';

/** Issuer claim of every client token. */
export const TOKEN_ISSUER = 'sscontrol';
/** Audience claim: the signaling gateway. */
export const TOKEN_AUDIENCE = 'sscontrol-signaling';
/** Longest token accepted, in characters (a real one is ~400). */
export const MAX_TOKEN_LENGTH = 4096;
/** Most session grants in one token. */
export const MAX_SESSION_GRANTS = 32;

/** Role of a client in a remote-control session. */
export type ClientRole = 'host' | 'controller';

/** What a client token grants, as minted. */
export interface ClientTokenRequest {
  /** Device or user id (1–200 characters). */
  readonly subject: string;
  readonly role: ClientRole;
  /** Session ids the token may open (host) or join (controller); `['*']` for any. */
  readonly sessions: readonly string[];
  /** Lifetime in seconds. */
  readonly ttlSeconds: number;
}

/** A minted token and what it says. */
export interface MintedClientToken {
  readonly token: string;
  readonly tokenId: string;
  readonly keyId: string;
  readonly keyFingerprint: string;
  readonly expiresAt: Date;
}

/** A verified token's claims. */
export interface VerifiedClientToken {
  readonly subject: string;
  readonly role: ClientRole;
  readonly sessions: readonly string[];
  readonly tokenId: string;
  readonly keyId: string;
  readonly keyFingerprint: string;
  readonly issuedAt: Date;
  readonly expiresAt: Date;
}

/** Options of {@link ClientTokens}. */
export interface ClientTokensOptions {
  /** Longest lifetime a token may be minted with, seconds. Default 86 400. */
  readonly maxTtlSeconds?: number;
  /** Clock skew tolerated on `exp`, `nbf` and `iat`, seconds. Default 5. */
  readonly clockSkewSeconds?: number;
}

const SUBJECT = /^[\x21-\x7e]{1,200}$/;
const SESSION = /^(\*|[A-Za-z0-9._:-]{1,200})$/;
const B64URL = /^[A-Za-z0-9_-]*$/;

function fail(code: KeysErrorCode, message: string): never {
  throw new KeysError(code, message);
}

function decodeJson(segment: string, what: string): unknown {
  if (!B64URL.test(segment)) fail(KeysErrorCode.TokenMalformed, `${what} is not base64url`);
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return fail(KeysErrorCode.TokenMalformed, `${what} is not JSON`);
  }
}

/**
 * Client access tokens: JWTs signed HS256 with the active `client-token` key, `kid` naming it.
 * Minting uses jose. Verification is a direct HS256 check (node:crypto HMAC, constant-time
 * comparison) against the ring's active and retiring keys — jose's `jwtVerify` goes through
 * WebCrypto's async API: ~24,600 verifications/s on one core at best (a pre-imported CryptoKey)
 * against ~179,000/s here (bench/keys, docs/benchmarks.md). Only `alg: HS256` with a `kid` is accepted: `none`,
 * asymmetric algorithms and `crit` headers are refused before any key is touched.
 */
export class ClientTokens {
  private readonly headerCache = new Map<string, string>();
  private readonly maxTtl: number;
  private readonly skewMs: number;

  constructor(
    private readonly keyring: Keyring,
    options: ClientTokensOptions = {},
  ) {
    this.maxTtl = options.maxTtlSeconds ?? 86_400;
    this.skewMs = (options.clockSkewSeconds ?? 5) * 1000;
  }

  /** Validates a mint request; throws `invalid_request` naming what is wrong. */
  validateRequest(request: ClientTokenRequest): void {
    if (!SUBJECT.test(request.subject)) {
      fail(KeysErrorCode.InvalidRequest, 'subject must be 1-200 printable ASCII characters');
    }
    if (request.role !== 'host' && request.role !== 'controller') {
      fail(KeysErrorCode.InvalidRequest, 'role must be host or controller');
    }
    if (
      request.sessions.length < 1 ||
      request.sessions.length > MAX_SESSION_GRANTS ||
      !request.sessions.every((s) => SESSION.test(s))
    ) {
      fail(
        KeysErrorCode.InvalidRequest,
        `sessions must be 1-${MAX_SESSION_GRANTS} session ids (A-Z a-z 0-9 . _ : -) or "*"`,
      );
    }
    if (
      !Number.isInteger(request.ttlSeconds) ||
      request.ttlSeconds < 1 ||
      request.ttlSeconds > this.maxTtl
    ) {
      fail(KeysErrorCode.InvalidRequest, `ttlSeconds must be an integer from 1 to ${this.maxTtl}`);
    }
  }

  /** Mints a token with the active client-token key. */
  async mint(request: ClientTokenRequest): Promise<MintedClientToken> {
    this.validateRequest(request);
    const { record, material } = this.keyring.requireActive('client-token');
    const nowS = Math.floor(this.keyring.now() / 1000);
    const tokenId = uuidv7();
    const exp = nowS + request.ttlSeconds;
    const token = await new SignJWT({ role: request.role, sessions: [...request.sessions] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: record.id })
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setSubject(request.subject)
      .setJti(tokenId)
      .setIssuedAt(nowS)
      .setExpirationTime(exp)
      .sign(material);
    return {
      token,
      tokenId,
      keyId: record.id,
      keyFingerprint: record.fingerprint,
      expiresAt: new Date(exp * 1000),
    };
  }

  /** Verifies a token; throws a {@link KeysError} with a `token_*` code. */
  verify(token: unknown): VerifiedClientToken {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      fail(KeysErrorCode.TokenMalformed, `a token is a string of 1-${MAX_TOKEN_LENGTH} characters`);
    }
    const dot1 = token.indexOf('.');
    const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
    if (dot1 <= 0 || dot2 <= dot1 + 1 || token.indexOf('.', dot2 + 1) !== -1) {
      fail(KeysErrorCode.TokenMalformed, 'a token has three dot-separated parts');
    }
    const kid = this.kidOf(token.slice(0, dot1));
    const key = this.keyring.tokenKey(kid);
    if (!key) fail(KeysErrorCode.TokenKeyUnknown, 'the token names an unknown key');

    const signature = token.slice(dot2 + 1);
    if (signature.length !== 43 || !B64URL.test(signature)) {
      fail(KeysErrorCode.TokenSignatureInvalid, 'the signature does not match');
    }
    // Compared as canonical base64url text: a signature whose unused trailing bits differ decodes
    // to the same bytes but is not the token that was issued.
    const expected = createHmac('sha256', key.key).update(token.slice(0, dot2)).digest('base64url');
    if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
      fail(KeysErrorCode.TokenSignatureInvalid, 'the signature does not match');
    }
    // Only now is the key's status worth reporting: the token is genuinely ours.
    if (key.status === 'revoked') fail(KeysErrorCode.TokenKeyRevoked, 'the signing key is revoked');
    if (key.status === 'retired') {
      fail(KeysErrorCode.TokenKeyRetired, "the signing key's grace period is over");
    }

    const claims = decodeJson(token.slice(dot1 + 1, dot2), 'the payload');
    const c = (claims ?? {}) as Record<string, unknown>;
    if (
      typeof claims !== 'object' ||
      claims === null ||
      c.iss !== TOKEN_ISSUER ||
      !(c.aud === TOKEN_AUDIENCE || (Array.isArray(c.aud) && c.aud.includes(TOKEN_AUDIENCE))) ||
      typeof c.sub !== 'string' ||
      !SUBJECT.test(c.sub) ||
      (c.role !== 'host' && c.role !== 'controller') ||
      !Array.isArray(c.sessions) ||
      c.sessions.length < 1 ||
      c.sessions.length > MAX_SESSION_GRANTS ||
      !c.sessions.every((s) => typeof s === 'string' && SESSION.test(s)) ||
      typeof c.jti !== 'string' ||
      c.jti.length < 1 ||
      c.jti.length > 200 ||
      typeof c.exp !== 'number' ||
      typeof c.iat !== 'number' ||
      (c.nbf !== undefined && typeof c.nbf !== 'number')
    ) {
      fail(KeysErrorCode.TokenClaimsInvalid, 'the token claims are incomplete or invalid');
    }
    const now = this.keyring.now();
    if (c.exp * 1000 + this.skewMs <= now) fail(KeysErrorCode.TokenExpired, 'the token expired');
    const notBefore = Math.max(c.iat, typeof c.nbf === 'number' ? c.nbf : c.iat);
    if (notBefore * 1000 - this.skewMs > now) {
      fail(KeysErrorCode.TokenNotYetValid, 'the token is not valid yet');
    }
    if (this.keyring.isTokenRevoked(c.jti)) {
      fail(KeysErrorCode.TokenRevoked, 'the token was revoked');
    }
    const record = this.keyring.get(kid)!;
    return {
      subject: c.sub,
      role: c.role,
      sessions: c.sessions as string[],
      tokenId: c.jti,
      keyId: kid,
      keyFingerprint: record.fingerprint,
      issuedAt: new Date(c.iat * 1000),
      expiresAt: new Date(c.exp * 1000),
    };
  }

  /** The header's `kid`, refusing anything but `{alg: HS256, kid}`; cached per header string. */
  private kidOf(segment: string): string {
    const cached = this.headerCache.get(segment);
    if (cached !== undefined) return cached;
    const header = decodeJson(segment, 'the header');
    const h = (header ?? {}) as Record<string, unknown>;
    if (typeof header !== 'object' || header === null || Array.isArray(header)) {
      fail(KeysErrorCode.TokenMalformed, 'the header is not a JSON object');
    }
    if (h.alg !== 'HS256') {
      fail(KeysErrorCode.TokenAlgorithmRefused, 'only alg HS256 is accepted');
    }
    if (h.crit !== undefined) {
      fail(KeysErrorCode.TokenAlgorithmRefused, 'crit header parameters are not supported');
    }
    if (h.typ !== undefined && h.typ !== 'JWT') {
      fail(KeysErrorCode.TokenMalformed, 'typ must be JWT');
    }
    if (typeof h.kid !== 'string' || h.kid.length < 1 || h.kid.length > 100) {
      fail(KeysErrorCode.TokenAlgorithmRefused, 'the header must name its key (kid)');
    }
    // Few distinct headers exist (one per signing key); bound the cache against junk.
    if (this.headerCache.size >= 256) this.headerCache.clear();
    this.headerCache.set(segment, h.kid);
    return h.kid;
  }
}
