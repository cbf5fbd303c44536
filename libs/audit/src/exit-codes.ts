import { AuditErrorCode, isAuditError } from './audit.errors.js';
import { ConfigErrorCode, isConfigError } from '@sscontrol/config';
import { EventStoreErrorCode, isEventStoreError } from '@sscontrol/event-store';

/**
 * Exit statuses of every sscontrol process (documented in docs/cli.md): the CLI's commands, and
 * the services when they cannot start. Values follow sysexits(3) where one fits.
 */
export enum ExitCode {
  Ok = 0,
  /** The audit trail does not verify (tampering, or a trail from another store). */
  IntegrityFailure = 1,
  /** Bad arguments. */
  Usage = 2,
  /** A dependency (event store, Redis) is unreachable or refused the operation. */
  Unavailable = 3,
  /** A service could not start because a dependency is unreachable (EX_UNAVAILABLE). */
  ServiceUnavailable = 69,
  /** An operation conflicted with a concurrent one; retry. */
  Conflict = 4,
  /** Internal error: a bug. */
  Software = 70,
  /** Bad configuration (EX_CONFIG). */
  Config = 78,
}

/** A usage error found while validating arguments. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * An error of a library this one cannot import (it depends on this one, e.g. the keys library)
 * that knows its own exit status.
 */
export interface WithExitCode {
  readonly exitCode: ExitCode;
}

function hasExitCode(error: unknown): error is WithExitCode {
  const code = (error as { exitCode?: unknown } | null)?.exitCode;
  return typeof code === 'number' && Object.values(ExitCode).includes(code);
}

/** The exit status for an error, by its typed code. */
export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof UsageError) return ExitCode.Usage;
  if (hasExitCode(error)) return error.exitCode;
  if (isConfigError(error)) {
    switch (error.code) {
      case ConfigErrorCode.Invalid:
      case ConfigErrorCode.EnvFileUnreadable:
        return ExitCode.Config;
    }
  }
  if (isEventStoreError(error)) {
    switch (error.code) {
      case EventStoreErrorCode.Unavailable:
      case EventStoreErrorCode.Overloaded:
      case EventStoreErrorCode.Closed:
        return ExitCode.Unavailable;
      case EventStoreErrorCode.Misconfigured:
        return ExitCode.Config;
      case EventStoreErrorCode.WrongExpectedRevision:
      case EventStoreErrorCode.DuplicateEvent:
        return ExitCode.Conflict;
      case EventStoreErrorCode.InvalidEvent:
        return ExitCode.Software;
    }
  }
  if (isAuditError(error)) {
    switch (error.code) {
      case AuditErrorCode.Unavailable:
        return ExitCode.Unavailable;
      case AuditErrorCode.KeyStoreCorrupt:
      case AuditErrorCode.NoSigningKey:
        return ExitCode.Config;
      case AuditErrorCode.InvalidEvent:
      case AuditErrorCode.UnknownEventType:
      case AuditErrorCode.SecretInEvent:
        return ExitCode.Software;
    }
  }
  return ExitCode.Software;
}
