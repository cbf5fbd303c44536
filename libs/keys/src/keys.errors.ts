import { ExitCode, type WithExitCode } from '@sscontrol/audit';

/**
 * Codes of {@link KeysError}. Every code an operator or client can see is listed, with its
 * meaning, in docs/keys.md; transports map them with an exhaustive switch (HTTP status, WebSocket
 * close code, CLI exit code).
 */
export enum KeysErrorCode {
  /** SSCONTROL_MASTER_KEY is not set where it is required (production). */
  MasterKeyMissing = 'master_key_missing',
  /** The master key is not 32 bytes of base64 or hex. */
  MasterKeyInvalid = 'master_key_invalid',
  /** The key store was sealed under a different master key. */
  MasterKeyMismatch = 'master_key_mismatch',
  /** The key store is unreadable or malformed, or a sealed secret does not decrypt. */
  KeyStoreCorrupt = 'key_store_corrupt',
  /** The key store cannot be reached (Redis or PostgreSQL down, file system error). */
  KeyStoreUnavailable = 'key_store_unavailable',
  /** Another process held the key store's lock for too long. */
  KeyStoreBusy = 'key_store_busy',
  /** The key store cannot hold this kind (the Redis password cannot live behind itself). */
  KeyStoreUnsuitable = 'key_store_unsuitable',
  /** No key with that id. */
  KeyNotFound = 'key_not_found',
  /** The key is already revoked: the operation does not apply. */
  KeyNotUsable = 'key_not_usable',
  /** No active key of the kind: the ring is not initialised (`sscontrol init`). */
  NoActiveKey = 'no_active_key',
  /** A dependent system (coturn's Redis set, Redis ACL) could not be updated: nothing changed. */
  SecretSyncFailed = 'secret_sync_failed',
  /** A request to mint or rotate had invalid parameters. */
  InvalidRequest = 'invalid_request',

  /** Not a JWT: wrong shape, bad base64url or JSON, or oversized. */
  TokenMalformed = 'token_malformed',
  /** A header algorithm other than HS256 (including `none`), or no `kid`. */
  TokenAlgorithmRefused = 'token_algorithm_refused',
  /** The `kid` names no key of the client-token kind. */
  TokenKeyUnknown = 'token_key_unknown',
  /** The signing key was revoked. */
  TokenKeyRevoked = 'token_key_revoked',
  /** The signing key's grace period is over. */
  TokenKeyRetired = 'token_key_retired',
  /** The signature does not match. */
  TokenSignatureInvalid = 'token_signature_invalid',
  /** `exp` has passed. */
  TokenExpired = 'token_expired',
  /** `nbf` / `iat` lie in the future beyond the allowed clock skew. */
  TokenNotYetValid = 'token_not_yet_valid',
  /** The token id is on the revocation list. */
  TokenRevoked = 'token_revoked',
  /** Claims missing or of the wrong type, wrong issuer or audience. */
  TokenClaimsInvalid = 'token_claims_invalid',

  /** Operator API key missing, malformed or unknown. */
  ApiKeyInvalid = 'api_key_invalid',
  /** Operator API key revoked. */
  ApiKeyRevoked = 'api_key_revoked',
  /** Operator API key past its grace period after a rotation. */
  ApiKeyExpired = 'api_key_expired',
}

/** Base class of the keys library's errors. Messages never contain secret material. */
export class KeysError extends Error implements WithExitCode {
  override readonly name = 'KeysError';
  /** The process exit status for this error (CLI commands and services that cannot start). */
  readonly exitCode: ExitCode;

  constructor(
    readonly code: KeysErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.exitCode = exitCodeOfKeysError(code);
  }
}

/** Exit status of a keys error code (exhaustive; documented in docs/cli.md). */
export function exitCodeOfKeysError(code: KeysErrorCode): ExitCode {
  switch (code) {
    case KeysErrorCode.InvalidRequest:
    case KeysErrorCode.KeyNotFound:
    case KeysErrorCode.KeyNotUsable:
    case KeysErrorCode.KeyStoreUnsuitable:
      return ExitCode.Usage;
    case KeysErrorCode.KeyStoreUnavailable:
    case KeysErrorCode.SecretSyncFailed:
    case KeysErrorCode.NoActiveKey:
      return ExitCode.Unavailable;
    case KeysErrorCode.KeyStoreBusy:
      return ExitCode.Conflict;
    case KeysErrorCode.MasterKeyMissing:
    case KeysErrorCode.MasterKeyInvalid:
    case KeysErrorCode.MasterKeyMismatch:
    case KeysErrorCode.KeyStoreCorrupt:
      return ExitCode.Config;
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
    case KeysErrorCode.ApiKeyInvalid:
    case KeysErrorCode.ApiKeyRevoked:
    case KeysErrorCode.ApiKeyExpired:
      return ExitCode.IntegrityFailure;
  }
}

export function isKeysError(error: unknown): error is KeysError {
  return error instanceof KeysError;
}

/** Codes that mean "this client token is not accepted" (the gateway's close reason). */
export const TOKEN_ERROR_CODES = [
  KeysErrorCode.TokenMalformed,
  KeysErrorCode.TokenAlgorithmRefused,
  KeysErrorCode.TokenKeyUnknown,
  KeysErrorCode.TokenKeyRevoked,
  KeysErrorCode.TokenKeyRetired,
  KeysErrorCode.TokenSignatureInvalid,
  KeysErrorCode.TokenExpired,
  KeysErrorCode.TokenNotYetValid,
  KeysErrorCode.TokenRevoked,
  KeysErrorCode.TokenClaimsInvalid,
] as const;
export type TokenErrorCode = (typeof TOKEN_ERROR_CODES)[number];
