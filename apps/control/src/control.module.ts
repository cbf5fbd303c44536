import { Module, type DynamicModule } from '@nestjs/common';
import { AuditModule } from '@sscontrol/audit';
import { ConfigModule, eventStoreConnection, type Config } from '@sscontrol/config';
import { EventStoreModule } from '@sscontrol/event-store';
import { HealthModule, TelemetryModule, type Telemetry } from '@sscontrol/telemetry';
import { KeysModule, resolveMasterKey } from '@sscontrol/keys';
import { ControlApiModule } from './api/control-api.module.js';
import { MaintenanceWorker } from './jobs/maintenance-worker.service.js';

/** Root module of the control process: operator API and maintenance worker. */
@Module({})
export class ControlModule {
  static forRoot(config: Config, telemetry: Telemetry): DynamicModule {
    return {
      module: ControlModule,
      imports: [
        ConfigModule.forRoot(config),
        TelemetryModule.forRoot(telemetry, {
          service: 'control',
          serveMetrics: config.telemetry.metricsEnabled,
        }),
        HealthModule.forRoot({
          service: 'control',
          instance: config.instanceId,
          version: telemetry.version,
        }),
        EventStoreModule.forRoot(eventStoreConnection(config)),
        // Checkpoint private keys are sealed under the master key, like every other secret.
        AuditModule.forRoot({
          cipher: resolveMasterKey(config.keys, (message) => telemetry.logger.warn(message)),
        }),
        KeysModule.forRoot({ lifecycle: true }),
        ControlApiModule,
      ],
      providers: [MaintenanceWorker],
    };
  }
}
