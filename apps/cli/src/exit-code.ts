import { exitCodeFor, ExitCode } from '@sscontrol/audit';
import { isKeysError, KeysErrorCode } from '@sscontrol/keys';

/** The CLI's exit status for an error: the keys library's codes, then the shared mapping. */
export function cliExitCode(error: unknown): ExitCode {
  if (!isKeysError(error)) return exitCodeFor(error);
  switch (error.code) {
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
