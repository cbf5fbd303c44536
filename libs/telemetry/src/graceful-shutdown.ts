import type { INestApplication } from '@nestjs/common';
import type { Telemetry } from './telemetry.js';

/**
 * SIGTERM and SIGINT close the app gracefully (shutdown hooks: in-flight appends committed,
 * the tail of the trail sealed, workers closed), then exit 0. A shutdown that takes longer
 * than `timeoutMs` exits 1, so an orchestrator is never left waiting. Used instead of Nest's
 * `enableShutdownHooks()`, which re-raises the signal and so ends the process "killed".
 */
export function closeOnSignals(
  app: INestApplication,
  telemetry: Telemetry,
  timeoutMs = 25_000,
): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    telemetry.logger.info({ signal }, `shutting down on ${signal}`);
    const timer = setTimeout(() => {
      telemetry.logger.error(
        { signal, timeoutMs },
        `shutdown took longer than ${timeoutMs} ms; exiting`,
      );
      telemetry.logger.flush();
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    // Nest's close() passes the signal on to onApplicationShutdown hooks; its typings omit it.
    const close: (signal?: string) => Promise<void> = app.close.bind(app);
    close(signal)
      .then(async () => {
        telemetry.logger.info('stopped');
        await telemetry.shutdown();
        process.exit(0);
      })
      .catch(async (error: unknown) => {
        telemetry.logger.error({ err: error }, 'shutdown failed');
        await telemetry.shutdown();
        process.exit(1);
      });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
