import { hostname, userInfo } from 'node:os';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { AuditRecorder, CheckpointKeys, CheckpointSealer, type Actor } from '@sscontrol/audit';
import { Secret, eventStoreConnection, loadConfig, type Config } from '@sscontrol/config';
import { openEventStore, type EventStore } from '@sscontrol/event-store';
import { startTelemetry, type Telemetry } from '@sscontrol/telemetry';

/**
 * What CLI commands share, opened only when a command needs it: `--help` and `config doc` work
 * without configuration, `config check` reports bad configuration instead of dying on it.
 */
@Injectable()
export class CliContext implements OnApplicationShutdown {
  private cachedConfig: Config | null = null;
  private cachedTelemetry: Telemetry | null = null;
  private cachedStore: Promise<EventStore> | null = null;

  /** The validated configuration (throws ConfigError listing every bad variable). */
  config(): Config {
    this.cachedConfig ??= loadConfig({ service: 'cli' });
    return this.cachedConfig;
  }

  telemetry(): Telemetry {
    const config = this.config();
    this.cachedTelemetry ??= startTelemetry(
      { ...config, logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel },
      { tracing: config.telemetry.otlpEndpoint !== undefined, logTo: 'stderr' },
    );
    return this.cachedTelemetry;
  }

  store(): Promise<EventStore> {
    this.telemetry();
    this.cachedStore ??= openEventStore(eventStoreConnection(this.config()));
    return this.cachedStore;
  }

  /** The operator running the CLI, as audit events name them. */
  actor(): Actor {
    let user = 'unknown';
    try {
      user = userInfo().username;
    } catch {
      // no passwd entry (containers): keep 'unknown'
    }
    return { type: 'operator', id: `cli:${user}@${hostname()}` };
  }

  async recorder(): Promise<AuditRecorder> {
    const config = this.config();
    return new AuditRecorder({
      store: await this.store(),
      source: { service: 'cli', instance: config.instanceId, version: this.telemetry().version },
      secrets: () => Secret.registry,
    });
  }

  async sealer(): Promise<CheckpointSealer> {
    const config = this.config();
    const store = await this.store();
    return new CheckpointSealer(
      store,
      await this.recorder(),
      new CheckpointKeys(config.audit.keysDir, store.info.storeId),
      config.audit.anchorDir,
      {
        everyEvents: config.audit.checkpointEveryEvents,
        everyMs: config.audit.checkpointEveryMs,
      },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.cachedStore) await (await this.cachedStore.catch(() => null))?.close();
    await this.cachedTelemetry?.shutdown();
  }
}
