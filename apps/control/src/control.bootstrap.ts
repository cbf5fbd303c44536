import { NestFactory } from '@nestjs/core';
import type { Express } from 'express';
import type { Config } from '@sscontrol/config';
import {
  PinoNestLogger,
  closeOnSignals,
  httpTelemetry,
  type Telemetry,
} from '@sscontrol/telemetry';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { httpBoundary } from './api/http-boundary.js';
import { openApiDocument } from './api/openapi.js';
import { ControlModule } from './control.module.js';

/** Builds and starts the control process; returns the running app (tests close it). */
export async function bootstrapControl(config: Config, telemetry: Telemetry) {
  const app = await NestFactory.create(ControlModule.forRoot(config, telemetry), {
    logger: new PinoNestLogger(telemetry.logger),
    abortOnError: false,
    bodyParser: false,
  });
  const express = app.getHttpAdapter().getInstance() as Express;
  express.disable('x-powered-by');
  express.set('trust proxy', config.control.trustProxy);
  app.use(httpTelemetry(telemetry, 'control'));
  app.use(httpBoundary({ maxBodyBytes: config.control.maxBodyBytes }));
  const document = openApiDocument(telemetry.version);
  SwaggerModule.setup('docs', app, document as unknown as OpenAPIObject, {
    jsonDocumentUrl: 'docs/openapi.json',
    yamlDocumentUrl: 'docs/openapi.yaml',
  });
  closeOnSignals(app, telemetry);
  await app.listen(config.control.port, config.control.host);
  telemetry.logger.info(
    { port: config.control.port },
    `control API listening on ${config.control.host}:${config.control.port}`,
  );
  return app;
}
