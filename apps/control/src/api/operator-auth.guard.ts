import { Inject, Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuditRecorder } from '@sscontrol/audit';
import {
  apiKeyIdOf,
  authenticateApiKey,
  isKeysError,
  KEYS,
  KeysErrorCode,
  type KeysRuntime,
} from '@sscontrol/keys';
import { ApiError, ApiErrorCode } from './api-errors.js';
import { AuthThrottle } from './auth-throttle.js';
import { ENDPOINT } from './endpoint.decorator.js';
import { ENDPOINTS, type EndpointName } from './endpoints.js';
import { clientIp, type OperatorRequest } from './operator-request.js';

/** True when a rotation request body touches operator API keys (all kinds, or named). */
function rotatesApiKeys(body: unknown): boolean {
  const b = (body ?? {}) as { all?: unknown; kinds?: unknown };
  return b.all === true || (Array.isArray(b.kinds) && b.kinds.includes('operator-api'));
}

type DenyReason =
  'key_missing' | 'key_invalid' | 'key_revoked' | 'key_expired' | 'forbidden' | 'throttled';

/**
 * Authenticates the operator API key (`Authorization: Bearer ssc_…`) and checks the endpoint's
 * roles. Every refusal is recorded (`operator.accessDenied`) before it is answered; an address
 * with too many failed authentications is throttled for a minute and recorded once per block.
 */
@Injectable()
export class OperatorAuthGuard implements CanActivate {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Inject(KEYS) private readonly keys: KeysRuntime,
    @Inject(AuditRecorder) private readonly recorder: AuditRecorder,
    @Inject(AuthThrottle) private readonly throttle: AuthThrottle,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const name = this.reflector.get<EndpointName | undefined>(ENDPOINT, context.getHandler());
    if (!name) return true; // not an operator endpoint (health, docs)
    const endpoint = ENDPOINTS[name];
    const req = context.switchToHttp().getRequest<OperatorRequest>();
    req.endpoint = endpoint;
    const ip = clientIp(req);

    const wait = this.throttle.retryAfterMs(ip);
    if (wait > 0) {
      throw new ApiError(
        429,
        ApiErrorCode.Throttled,
        'too many failed authentications from this address',
        {
          'retry-after': String(Math.ceil(wait / 1000)),
        },
      );
    }

    // The scheme is case-insensitive (RFC 7235 §2.1).
    const presented = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!presented) {
      await this.deny(req, ip, 'key_missing', null, null);
      throw new ApiError(
        401,
        ApiErrorCode.KeyMissing,
        'send an operator API key: Authorization: Bearer ssc_…',
        {
          'www-authenticate': 'Bearer realm="sscontrol"',
        },
      );
    }
    let identity;
    try {
      identity = authenticateApiKey(this.keys.keyring, presented);
    } catch (error) {
      if (!isKeysError(error)) throw error;
      const reason: DenyReason =
        error.code === KeysErrorCode.ApiKeyRevoked
          ? 'key_revoked'
          : error.code === KeysErrorCode.ApiKeyExpired
            ? 'key_expired'
            : 'key_invalid';
      await this.deny(req, ip, reason, apiKeyIdOf(presented), null);
      throw new ApiError(401, error.code, error.message, {
        'www-authenticate': 'Bearer realm="sscontrol", error="invalid_token"',
      });
    }
    req.operator = identity;
    if (!(endpoint.roles as readonly string[]).includes(identity.role)) {
      await this.deny(req, ip, 'forbidden', identity.keyId, identity.role, identity.fingerprint);
      throw new ApiError(
        403,
        ApiErrorCode.Forbidden,
        `role ${identity.role} may not ${endpoint.action} (allowed: ${endpoint.roles.join(', ')})`,
      );
    }
    if (name === 'rotateKeys' && identity.role !== 'admin' && rotatesApiKeys(req.body)) {
      await this.deny(req, ip, 'forbidden', identity.keyId, identity.role, identity.fingerprint);
      throw new ApiError(403, ApiErrorCode.Forbidden, 'only admin may rotate operator API keys');
    }
    return true;
  }

  private async deny(
    req: OperatorRequest,
    ip: string,
    reason: DenyReason,
    keyId: string | null,
    role: 'admin' | 'operator' | 'auditor' | 'issuer' | null,
    fingerprint?: string,
  ): Promise<void> {
    const startsBlock = reason === 'forbidden' ? false : this.throttle.fail(ip);
    const requestId = req.requestId ?? 'unknown';
    const operatorId = keyId ?? `anonymous@${ip}`;
    const context = {
      actor: {
        type: 'operator' as const,
        id: operatorId,
        ip,
        ...(fingerprint ? { keyFingerprint: fingerprint } : {}),
      },
      correlationId: requestId,
    };
    // Fail closed: a refusal that cannot be recorded is answered 503, not silently.
    await this.recorder.record(
      'operator.accessDenied',
      { operatorId, role, action: req.endpoint?.action ?? 'unknown', reason, ip, requestId },
      context,
    );
    if (startsBlock) {
      await this.recorder.record(
        'operator.accessDenied',
        {
          operatorId,
          role,
          action: req.endpoint?.action ?? 'unknown',
          reason: 'throttled',
          ip,
          requestId,
        },
        context,
      );
    }
  }
}
