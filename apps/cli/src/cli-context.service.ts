import { hostname, userInfo } from 'node:os';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { AuditRecorder, CheckpointKeys, CheckpointSealer, type Actor } from '@sscontrol/audit';
import { Secret, eventStoreConnection, loadConfig, type Config } from '@sscontrol/config';
import { openEventStore, uuidv7, type EventStore } from '@sscontrol/event-store';
import { KeysRuntime, resolveMasterKey, type MasterKey } from '@sscontrol/keys';
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

  /** The master key (sealing checkpoint keys and the key ring). */
  masterKey(): MasterKey {
    return resolveMasterKey(this.config().keys, (message) =>
      process.stderr.write(`sscontrol: ${message}\n`),
    );
  }

  /** Forgets the loaded configuration (after `init` wrote the env file). */
  reload(): void {
    this.cachedConfig = null;
  }

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
      new CheckpointKeys(config.audit.keysDir, store.info.storeId, this.masterKey()),
      config.audit.anchorDir,
      {
        everyEvents: config.audit.checkpointEveryEvents,
        everyMs: config.audit.checkpointEveryMs,
      },
    );
  }

  private cachedKeys: Promise<KeysRuntime> | null = null;

  /** The key ring with its manager (rotation appliers included), not following live changes. */
  keys(): Promise<KeysRuntime> {
    this.cachedKeys ??= (async () => {
      const sealer = await this.sealer();
      return KeysRuntime.open({
        config: this.config(),
        recorder: await this.recorder(),
        checkpointKeys: {
          active: () => sealer.activeKey(),
          rotate: async () => {
            await sealer.sealNow();
            const key = await sealer.rotateKey();
            return { keyId: key.keyId, fingerprint: key.fingerprint };
          },
        },
        watch: false,
        warn: (message) => process.stderr.write(`sscontrol: ${message}\n`),
      });
    })();
    return this.cachedKeys;
  }

  /** Records the CLI operator's action (the keys library records the key events themselves). */
  async recordAction(
    action: string,
    outcome: 'succeeded' | 'failed',
    details: {
      target?: string;
      parameters?: Record<string, string | number | boolean | null>;
      error?: string;
    } = {},
  ): Promise<void> {
    const actor = this.actor();
    await (
      await this.recorder()
    ).record(
      'operator.actionPerformed',
      {
        operatorId: actor.id,
        role: 'local',
        action,
        outcome,
        requestId: this.requestId,
        ...details,
      },
      { actor, correlationId: this.requestId },
    );
  }

  /**
   * Runs an operator action; if it fails, records `operator.actionPerformed` with outcome
   * `failed` (best effort: the original error is what the operator sees) and rethrows.
   */
  async attempt<T>(action: string, target: string | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      await this.recordAction(action, 'failed', {
        ...(target ? { target } : {}),
        error: (error as Error).message.slice(0, 1000),
      }).catch(() => undefined);
      throw error;
    }
  }

  /** Correlates every event of one CLI invocation. */
  readonly requestId = uuidv7();

  async onApplicationShutdown(): Promise<void> {
    if (this.cachedKeys) await (await this.cachedKeys.catch(() => null))?.close();
    if (this.cachedStore) await (await this.cachedStore.catch(() => null))?.close();
    await this.cachedTelemetry?.shutdown();
  }
}
