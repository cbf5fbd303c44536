import { Controller, Get, Header, Inject, Module, type DynamicModule } from '@nestjs/common';
import { Metrics } from './metrics.js';
import type { Telemetry } from './telemetry.js';

/** Injection token of the process's pino logger. */
export const LOGGER = Symbol('sscontrol.logger');
/** Injection token of the {@link Telemetry} handle. */
export const TELEMETRY = Symbol('sscontrol.telemetry');

@Controller()
class MetricsController {
  constructor(@Inject(Metrics) private readonly metrics: Metrics) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async metricsText(): Promise<string> {
    return this.metrics.render();
  }
}

/** Provides the logger and metrics to a NestJS app, and serves `/metrics` when enabled. */
@Module({})
export class TelemetryModule {
  static forRoot(
    telemetry: Telemetry,
    options: { service: string; serveMetrics: boolean },
  ): DynamicModule {
    return {
      module: TelemetryModule,
      global: true,
      controllers: options.serveMetrics ? [MetricsController] : [],
      providers: [
        { provide: Metrics, useValue: telemetry.metrics },
        { provide: LOGGER, useValue: telemetry.logger },
        { provide: TELEMETRY, useValue: { service: options.service } },
      ],
      exports: [Metrics, LOGGER],
    };
  }
}
