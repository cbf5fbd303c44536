import { ExitCode, type WithExitCode } from '@sscontrol/audit';

/**
 * Codes of {@link LimitsError}. An operator sees them when adding a ban or setting the lockdown
 * (control API, CLI); the gateway sees `limits_store_unavailable` from its background refreshes.
 * Listed in docs/signaling-limits.md.
 */
export enum LimitsErrorCode {
  /** A ban target is not an IPv4/IPv6 address or CIDR, or a CIDR has host bits set. */
  InvalidBanTarget = 'invalid_ban_target',
  /** An option is out of range: a TTL, reason or incident id, a trusted proxy, an origin, a limit. */
  InvalidOption = 'invalid_option',
  /** Redis did not answer or refused the command; nothing was changed. */
  StoreUnavailable = 'limits_store_unavailable',
  /**
   * Redis holds a ban or lockdown record that is not one (edited by hand?). A ban is enforced and
   * a lockdown is in force regardless, until removed or cleared: corruption never lifts either.
   */
  StoreCorrupt = 'limits_store_corrupt',
}

/** Base class of the limits module's errors. */
export class LimitsError extends Error implements WithExitCode {
  override readonly name = 'LimitsError';
  readonly exitCode: ExitCode;

  constructor(
    readonly code: LimitsErrorCode,
    message: string,
  ) {
    super(message);
    this.exitCode = exitCodeOfLimitsError(code);
  }
}

/** Exit status of a limits error code (exhaustive). */
export function exitCodeOfLimitsError(code: LimitsErrorCode): ExitCode {
  switch (code) {
    case LimitsErrorCode.InvalidBanTarget:
    case LimitsErrorCode.InvalidOption:
      return ExitCode.Usage;
    case LimitsErrorCode.StoreUnavailable:
      return ExitCode.Unavailable;
    case LimitsErrorCode.StoreCorrupt:
      return ExitCode.Config;
  }
}

export function isLimitsError(error: unknown): error is LimitsError {
  return error instanceof LimitsError;
}

/** A Redis failure as a {@link LimitsError}, with the message only (ioredis adds the command). */
export function asLimitsError(what: string, error: unknown): LimitsError {
  if (error instanceof LimitsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new LimitsError(LimitsErrorCode.StoreUnavailable, `could not ${what}: ${message}`);
}
