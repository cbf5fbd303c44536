import { HttpException } from '@nestjs/common';
import { AuditErrorCode, isAuditError } from '@sscontrol/audit';
import { KeysErrorCode, isKeysError } from '@sscontrol/keys';

/** Codes of the control API's own errors (besides the keys library's). */
export enum ApiErrorCode {
  KeyMissing = 'key_missing',
  Forbidden = 'forbidden',
  Throttled = 'throttled',
  InvalidJson = 'invalid_json',
  InvalidBody = 'invalid_body',
  UnknownField = 'unknown_field',
  BodyTooLarge = 'body_too_large',
  UnsupportedMediaType = 'unsupported_media_type',
  NotFound = 'not_found',
  AuditUnavailable = 'audit_unavailable',
  Internal = 'internal_error',
}

/** An error answered as `{ error: { code, message, requestId } }` with `status`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** HTTP status of a keys error code (exhaustive: a new code does not compile until mapped). */
export function statusOfKeysError(code: KeysErrorCode): number {
  switch (code) {
    case KeysErrorCode.InvalidRequest:
    case KeysErrorCode.KeyStoreUnsuitable:
      return 400;
    case KeysErrorCode.ApiKeyInvalid:
    case KeysErrorCode.ApiKeyRevoked:
    case KeysErrorCode.ApiKeyExpired:
    case KeysErrorCode.TokenMalformed:
    case KeysErrorCode.TokenAlgorithmRefused:
    case KeysErrorCode.TokenKeyUnknown:
    case KeysErrorCode.TokenKeyRevoked:
    case KeysErrorCode.TokenKeyRetired:
    case KeysErrorCode.TokenSignatureInvalid:
    case KeysErrorCode.TokenExpired:
    case KeysErrorCode.TokenNotYetValid:
    case KeysErrorCode.TokenRevoked:
    case KeysErrorCode.TokenClaimsInvalid:
      return 401;
    case KeysErrorCode.KeyNotFound:
      return 404;
    case KeysErrorCode.KeyNotUsable:
      return 409;
    case KeysErrorCode.NoActiveKey:
    case KeysErrorCode.KeyStoreUnavailable:
    case KeysErrorCode.KeyStoreBusy:
    case KeysErrorCode.SecretSyncFailed:
      return 503;
    case KeysErrorCode.MasterKeyMissing:
    case KeysErrorCode.MasterKeyInvalid:
    case KeysErrorCode.MasterKeyMismatch:
    case KeysErrorCode.KeyStoreCorrupt:
      return 500;
  }
}

/** Turns anything thrown while serving a request into an {@link ApiError}. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (isKeysError(error))
    return new ApiError(statusOfKeysError(error.code), error.code, error.message);
  if (isAuditError(error)) {
    if (error.code === AuditErrorCode.Unavailable) {
      return new ApiError(
        503,
        ApiErrorCode.AuditUnavailable,
        'the audit trail cannot record this action right now, so it was not performed',
        { 'retry-after': '5' },
      );
    }
    return new ApiError(500, ApiErrorCode.Internal, 'internal error');
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status === 404) return new ApiError(404, ApiErrorCode.NotFound, 'no such endpoint');
    return new ApiError(
      status,
      status >= 500 ? ApiErrorCode.Internal : ApiErrorCode.InvalidBody,
      error.message,
    );
  }
  return new ApiError(500, ApiErrorCode.Internal, 'internal error');
}
