import { hostname } from 'node:os';
import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { CONFIG, Secret, type Config } from '@sscontrol/config';
import { EVENT_STORE, type EventStore } from '@sscontrol/event-store';
import { HealthChecks, LOGGER, Metrics, sscontrolVersion } from '@sscontrol/telemetry';
import { AuditRecorder } from './audit-recorder.js';
import { CheckpointKeys, type SecretCipher } from './checkpoint-keys.js';
import { CheckpointSealer } from './checkpoint-sealer.js';

/** Options of {@link AuditModule.forRoot}. */
export interface AuditModuleOptions {
  /** Run a checkpoint sealer in this process. Default true. */
  readonly seal?: boolean;
  /** Seals checkpoint private keys at rest (the master key). Default: plain files, mode 0600. */
  readonly cipher?: SecretCipher;
}

/** Records the process's start and stop, seals checkpoints, and reports audit health. */
@Injectable()
class AuditLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(AuditRecorder) private readonly recorder: AuditRecorder,
    @Inject(CheckpointSealer) private readonly sealer: CheckpointSealer,
    @Inject(HealthChecks) private readonly health: HealthChecks,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject('AUDIT_OPTIONS') private readonly options: AuditModuleOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const backend = this.store.info.backend;
    this.health.register('eventStore', async () => {
      try {
        const head = await this.store.head();
        this.metrics.eventStoreUp.set({ backend }, 1);
        return {
          status: 'up',
          backend,
          location: this.store.info.location,
          headPosition: head.position,
        };
      } catch (error) {
        this.metrics.eventStoreUp.set({ backend }, 0);
        return { status: 'down', backend, detail: (error as Error).message };
      }
    });
    this.health.register('audit', () => {
      const last = this.sealer.lastCheckpoint;
      const broken = this.sealer.chainBreak;
      return {
        status: broken ? 'down' : 'up',
        chain: broken ? 'broken' : 'intact',
        ...(broken ? { detail: `${broken.class} at position ${broken.position}` } : {}),
        lastCheckpoint: last
          ? { seq: last.seq, toPosition: last.toPosition, signedAt: last.signedAt }
          : null,
      };
    });
    // Fail closed: a process that cannot record its own start does not serve.
    await this.recorder.record(
      'instance.started',
      {
        instance: this.config.instanceId,
        service: this.config.service,
        version: this.recorderVersion(),
        host: hostname(),
        pid: process.pid,
        eventStore: backend,
      },
      { actor: { type: 'service', id: this.config.instanceId } },
    );
    if (this.options.seal !== false) await this.sealer.start();
    this.logger.info(
      { backend, location: this.store.info.location, storeId: this.store.info.storeId },
      'audit trail ready',
    );
  }

  private recorderVersion(): string {
    return this.recorder.source.version;
  }

  async onApplicationShutdown(signal?: string): Promise<void> {
    await this.recorder
      .record(
        'instance.stopped',
        {
          instance: this.config.instanceId,
          service: this.config.service,
          reason: signal ?? 'shutdown',
        },
        { actor: { type: 'service', id: this.config.instanceId } },
      )
      .catch((error: unknown) =>
        this.logger.error({ err: error }, 'could not record instance.stopped'),
      );
    // Seal what this process recorded so the trail's tail is signed before it stops.
    await this.sealer.stop({ finalSeal: this.options.seal !== false });
  }
}

/**
 * The audit trail for a NestJS app: a fail-closed {@link AuditRecorder} bound to the event
 * store, the checkpoint sealer, and their health checks and metrics.
 */
@Module({})
export class AuditModule {
  static forRoot(options: AuditModuleOptions = {}): DynamicModule {
    return {
      module: AuditModule,
      global: true,
      providers: [
        { provide: 'AUDIT_OPTIONS', useValue: options },
        {
          provide: AuditRecorder,
          inject: [CONFIG, EVENT_STORE, Metrics, LOGGER],
          useFactory: (config: Config, store: EventStore, metrics: Metrics, logger: Logger) =>
            new AuditRecorder({
              store,
              source: {
                service: config.service,
                instance: config.instanceId,
                version: sscontrolVersion(),
              },
              secrets: () => Secret.registry,
              onRecorded: (type, ms) => {
                metrics.auditEvents.inc({ type, outcome: 'recorded' });
                metrics.appendDuration.observe(
                  { backend: store.info.backend, outcome: 'ok' },
                  ms / 1000,
                );
              },
              onFailure: (type, error) => {
                metrics.auditEvents.inc({ type, outcome: 'failed' });
                logger.error(
                  { err: error, type },
                  'audit event not recorded: the action it records does not take effect',
                );
              },
            }),
        },
        {
          provide: CheckpointSealer,
          inject: [CONFIG, EVENT_STORE, AuditRecorder, Metrics, LOGGER],
          useFactory: (
            config: Config,
            store: EventStore,
            recorder: AuditRecorder,
            metrics: Metrics,
            logger: Logger,
          ) =>
            new CheckpointSealer(
              store,
              recorder,
              new CheckpointKeys(config.audit.keysDir, store.info.storeId, options.cipher),
              config.audit.anchorDir,
              {
                everyEvents: config.audit.checkpointEveryEvents,
                everyMs: config.audit.checkpointEveryMs,
                onSealed: (cp) => {
                  metrics.checkpoints.inc();
                  metrics.lastCheckpoint.set(Date.parse(cp.signedAt) / 1000);
                  metrics.lastSealedPosition.set(cp.toPosition);
                  logger.debug(
                    { seq: cp.seq, toPosition: cp.toPosition, keyId: cp.keyId },
                    'checkpoint sealed',
                  );
                },
                onChainBroken: (broken) => {
                  metrics.chainIntact.set(0);
                  logger.fatal(
                    { tamper: broken },
                    `audit trail does not verify: ${broken.class} at position ${broken.position}; checkpoints are no longer signed`,
                  );
                },
                onError: (error) =>
                  logger.error({ err: error }, 'checkpoint sealing failed; retrying'),
              },
            ),
        },
        AuditLifecycle,
      ],
      exports: [AuditRecorder, CheckpointSealer],
    };
  }
}
