export { KeysError, KeysErrorCode, TOKEN_ERROR_CODES, isKeysError } from './keys.errors.js';
export type { TokenErrorCode } from './keys.errors.js';
export { MasterKey } from './master-key.js';
export {
  KEY_KINDS,
  OPERATOR_ROLES,
  keyInfo,
  keyKindSchema,
  keyRecordSchema,
  ringDocumentSchema,
  statusAt,
} from './key-record.js';
export type {
  KeyInfo,
  KeyKind,
  KeyRecord,
  KeyStatus,
  OperatorRole,
  RingDocument,
} from './key-record.js';
export { parseRingDocument } from './key-store.js';
export type { KeyStore, RingUpdate } from './key-store.js';
export { FileKeyStore } from './file-key-store.js';
export { RedisKeyStore } from './redis-key-store.js';
export type { RedisKeyStoreOptions } from './redis-key-store.js';
export { PostgresKeyStore } from './postgres-key-store.js';
export type { PostgresKeyStoreOptions } from './postgres-key-store.js';
export type { FileKeyStoreOptions } from './file-key-store.js';
export { Keyring, aadOf } from './keyring.js';
export type { KeyringChange, KeyringOptions, ResolvedKey } from './keyring.js';
export { fingerprintOf, newKeyId } from './key-material.js';
export {
  ClientTokens,
  MAX_SESSION_GRANTS,
  MAX_TOKEN_LENGTH,
  TOKEN_AUDIENCE,
  TOKEN_ISSUER,
} from './client-tokens.js';
export type {
  ClientRole,
  ClientTokenRequest,
  ClientTokensOptions,
  MintedClientToken,
  VerifiedClientToken,
} from './client-tokens.js';
export { API_KEY_PREFIX, apiKeyIdOf, authenticateApiKey, formatApiKey } from './api-keys.js';
export type { ApiKeyIdentity } from './api-keys.js';
export { KeyManager } from './key-manager.js';
export type {
  CheckpointKeyRotator,
  IssuedApiKey,
  KeyManagerOptions,
  RotationRequest,
  RotationResult,
  SecretApplier,
} from './key-manager.js';
export { KeysRuntime, resolveMasterKey } from './keys-runtime.js';
export type { IssuedTurnCredential, KeysRuntimeOptions } from './keys-runtime.js';
export { KEYS, KeysModule } from './keys.module.js';
export type { KeysModuleOptions } from './keys.module.js';
export { TURN_CREDENTIAL_MAX_TTL_SECONDS, turnRestCredential } from './turn-credentials.js';
export type { TurnRestCredential } from './turn-credentials.js';
export { TurnSecretSet } from './turn-secret-set.js';
export type { TurnSecretReconcileResult } from './turn-secret-set.js';
