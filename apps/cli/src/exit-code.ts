import { exitCodeFor, type ExitCode } from '@sscontrol/audit';

/**
 * The CLI's exit status for an error. Errors of every library carry or map to one (the keys
 * library's carry `exitCode`), see docs/cli.md.
 */
export function cliExitCode(error: unknown): ExitCode {
  return exitCodeFor(error);
}
