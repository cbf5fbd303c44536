import { KeysErrorCode, type TokenErrorCode } from '@sscontrol/keys';
import { CloseCode } from '@sscontrol/protocol';

export { CloseCode };

/** Close code and audit rejection reason for a refused token (exhaustive). */
export function closeForTokenError(code: TokenErrorCode): {
  code: CloseCode;
  reason: 'token_invalid' | 'token_expired' | 'token_revoked' | 'key_revoked';
} {
  switch (code) {
    case KeysErrorCode.TokenExpired:
      return { code: CloseCode.TokenExpired, reason: 'token_expired' };
    case KeysErrorCode.TokenRevoked:
      return { code: CloseCode.TokenRevoked, reason: 'token_revoked' };
    case KeysErrorCode.TokenKeyRevoked:
      return { code: CloseCode.TokenRevoked, reason: 'key_revoked' };
    case KeysErrorCode.TokenKeyRetired:
    case KeysErrorCode.TokenMalformed:
    case KeysErrorCode.TokenAlgorithmRefused:
    case KeysErrorCode.TokenKeyUnknown:
    case KeysErrorCode.TokenSignatureInvalid:
    case KeysErrorCode.TokenNotYetValid:
    case KeysErrorCode.TokenClaimsInvalid:
      return { code: CloseCode.TokenInvalid, reason: 'token_invalid' };
  }
}
