import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { pino, type Logger } from 'pino';
import type { Config } from '@sscontrol/config';
import { createLogger } from './logger.js';
import { Metrics } from './metrics.js';
import { startTracing } from './tracing.js';
import { sscontrolVersion } from './version.js';

/** What a process's telemetry bootstrap gives it. */
export interface Telemetry {
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly version: string;
  /** Flushes spans and logs. */
  shutdown(): Promise<void>;
}

/** Options of {@link startTelemetry}. */
export interface StartTelemetryOptions {
  readonly spanProcessors?: readonly SpanProcessor[];
  /** Default true; the CLI traces only when an OTLP endpoint is configured. */
  readonly tracing?: boolean;
  /** Default stdout; the CLI logs to stderr so that its output stays machine-readable. */
  readonly logTo?: 'stdout' | 'stderr';
}

let sdk: NodeSDK | null = null;

/**
 * The first thing every sscontrol entry point runs: tracing (once per process), metrics and
 * the JSON logger. Import the application only after it returns, so that its modules are
 * instrumented.
 */
export function startTelemetry(config: Config, options: StartTelemetryOptions = {}): Telemetry {
  const version = sscontrolVersion();
  if (options.tracing !== false && !sdk) {
    sdk = startTracing({
      config,
      version,
      ...(options.spanProcessors ? { spanProcessors: options.spanProcessors } : {}),
    });
  }
  const logger = createLogger({
    config,
    version,
    destination: pino.destination({
      dest: options.logTo === 'stderr' ? 2 : 1,
      sync: options.logTo === 'stderr',
    }),
  });
  const metrics = new Metrics();
  metrics.buildInfo.set(
    { service: config.service, version, event_store: config.eventStore.backend },
    1,
  );
  return {
    logger,
    metrics,
    version,
    async shutdown() {
      await sdk?.shutdown().catch(() => undefined);
      sdk = null;
      logger.flush();
    },
  };
}
