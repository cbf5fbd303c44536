/** Codes of {@link AuditError}. */
export enum AuditErrorCode {
  /** The event's type is not in the catalogue. */
  UnknownEventType = 'audit_unknown_event_type',
  /** The event's payload or envelope does not match its schema. */
  InvalidEvent = 'audit_invalid_event',
  /** The event contains a secret value this process knows; it was refused, not recorded. */
  SecretInEvent = 'audit_secret_in_event',
  /** The event could not be made durable. The action it records must not take effect. */
  Unavailable = 'audit_unavailable',
  /** No checkpoint signing key is available. */
  NoSigningKey = 'audit_no_signing_key',
  /** A checkpoint key file or anchor file is unreadable or malformed. */
  KeyStoreCorrupt = 'audit_key_store_corrupt',
}

/** Base class of the audit library's errors. */
export class AuditError extends Error {
  override readonly name = 'AuditError';

  constructor(
    readonly code: AuditErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isAuditError(error: unknown): error is AuditError {
  return error instanceof AuditError;
}
