import { NestFactory } from '@nestjs/core';
import type { Express } from 'express';
import type { Config } from '@sscontrol/config';
import {
  PinoNestLogger,
  closeOnSignals,
  httpTelemetry,
  type Telemetry,
} from '@sscontrol/telemetry';
import { ControlModule } from './control.module.js';

/** Builds and starts the control process; returns the running app (tests close it). */
export async function bootstrapControl(config: Config, telemetry: Telemetry) {
  const app = await NestFactory.create(ControlModule.forRoot(config, telemetry), {
    logger: new PinoNestLogger(telemetry.logger),
    abortOnError: false,
  });
  app.use(httpTelemetry(telemetry, 'control'));
  (app.getHttpAdapter().getInstance() as Express).disable('x-powered-by');
  closeOnSignals(app, telemetry);
  await app.listen(config.control.port, config.control.host);
  telemetry.logger.info(
    { port: config.control.port },
    `control API listening on ${config.control.host}:${config.control.port}`,
  );
  return app;
}
