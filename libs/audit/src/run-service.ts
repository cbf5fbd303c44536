import type { Telemetry } from '@sscontrol/telemetry';
import { ExitCode, exitCodeFor } from './exit-codes.js';

/**
 * Runs a service's start-up; if it fails, logs one fatal line naming the cause and exits with a
 * status that tells an orchestrator whether retrying can help (69: a dependency is unreachable;
 * 78: configuration; 70: a bug).
 */
export async function runService(
  service: string,
  telemetry: Telemetry,
  start: () => Promise<unknown>,
): Promise<void> {
  try {
    await start();
  } catch (error) {
    let code = exitCodeFor(error);
    if (code === ExitCode.Unavailable || (error as { code?: string }).code === 'EADDRINUSE')
      code = ExitCode.ServiceUnavailable;
    telemetry.logger.fatal(
      { err: error, exitCode: code },
      `${service} cannot start: ${(error as Error).message}`,
    );
    await telemetry.shutdown();
    process.exit(code);
  }
}
