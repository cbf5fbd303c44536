import { NestFactory } from '@nestjs/core';
import type { Express } from 'express';
import { WsAdapter } from '@nestjs/platform-ws';
import type { Config } from '@sscontrol/config';
import {
  PinoNestLogger,
  closeOnSignals,
  httpTelemetry,
  type Telemetry,
} from '@sscontrol/telemetry';
import { SignalingModule } from './signaling.module.js';

/**
 * The `ws` adapter, with the frame cap from the configuration (`SIGNALING_MAX_FRAME_BYTES`). The
 * gateway reads frames itself (`parseClientFrame`, in order, per connection), so Nest's own
 * message binding — an RxJS pipeline per socket that JSON-parses every frame a second time to
 * find `@SubscribeMessage` handlers the gateway does not have — is not installed; nor is its
 * per-socket error logger (a client's bad frame is the client's problem, not a log line).
 */
class SignalingWsAdapter extends WsAdapter {
  constructor(
    app: ConstructorParameters<typeof WsAdapter>[0],
    private readonly maxPayload: number,
  ) {
    super(app);
  }

  override bindMessageHandlers(): void {}

  override bindErrorHandler(server: {
    on(event: 'error', listener: (error: Error) => void): void;
  }) {
    server.on('error', (error) => this.logger.error(error));
    return server;
  }

  override create(port: number, options: Record<string, unknown> = {}): unknown {
    return super.create(port, { ...options, maxPayload: this.maxPayload }) as unknown;
  }
}

/** Builds and starts the signaling gateway; returns the running app (tests close it). */
export async function bootstrapSignaling(config: Config, telemetry: Telemetry) {
  const app = await NestFactory.create(SignalingModule.forRoot(config, telemetry), {
    logger: new PinoNestLogger(telemetry.logger),
    bufferLogs: false,
    abortOnError: false,
  });
  app.useWebSocketAdapter(new SignalingWsAdapter(app, config.signaling.maxFrameBytes));
  app.use(httpTelemetry(telemetry, 'signaling'));
  (app.getHttpAdapter().getInstance() as Express).disable('x-powered-by');
  closeOnSignals(app, telemetry);
  await app.listen(config.signaling.port, config.signaling.host);
  const url = await app.getUrl();
  telemetry.logger.info(
    { url, port: config.signaling.port },
    `signaling gateway listening on ${config.signaling.host}:${config.signaling.port}`,
  );
  return app;
}
