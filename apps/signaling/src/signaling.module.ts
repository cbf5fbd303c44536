import { Module, type DynamicModule } from '@nestjs/common';
import { AuditModule } from '@sscontrol/audit';
import { ConfigModule, eventStoreConnection, type Config } from '@sscontrol/config';
import { EventStoreModule } from '@sscontrol/event-store';
import { HealthModule, TelemetryModule, type Telemetry } from '@sscontrol/telemetry';
import { KeysModule, resolveMasterKey } from '@sscontrol/keys';
import { DemoModule } from './demo/demo.module.js';
import { signalingStateProvider } from './cluster/signaling-state.provider.js';
import { SignalingGuards } from './gateway/guards.js';
import { SignalingGateway } from './gateway/signaling.gateway.js';
import { SignalingRedisModule } from './signaling-redis.module.js';

/** Root module of the signaling gateway process. */
@Module({})
export class SignalingModule {
  static forRoot(config: Config, telemetry: Telemetry): DynamicModule {
    return {
      module: SignalingModule,
      imports: [
        ConfigModule.forRoot(config),
        TelemetryModule.forRoot(telemetry, {
          service: 'signaling',
          serveMetrics: config.telemetry.metricsEnabled,
        }),
        HealthModule.forRoot({
          service: 'signaling',
          instance: config.instanceId,
          version: telemetry.version,
        }),
        EventStoreModule.forRoot(eventStoreConnection(config)),
        // Checkpoint private keys are sealed under the master key, like every other secret.
        AuditModule.forRoot({
          cipher: resolveMasterKey(config.keys, (message) => telemetry.logger.warn(message)),
        }),
        SignalingRedisModule,
        KeysModule.forRoot({ lifecycle: false }),
        ...(config.signaling.demo ? [DemoModule] : []),
      ],
      providers: [signalingStateProvider, SignalingGuards, SignalingGateway],
    };
  }
}
