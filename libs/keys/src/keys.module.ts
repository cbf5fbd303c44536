import {
  Inject,
  Injectable,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { AuditRecorder, CheckpointSealer } from '@sscontrol/audit';
import { CONFIG, type Config } from '@sscontrol/config';
import { HealthChecks, LOGGER } from '@sscontrol/telemetry';
import { KeysRuntime } from './keys-runtime.js';

/** Injection token of the process's {@link KeysRuntime}. */
export const KEYS = Symbol('sscontrol.keys');

/** Options of {@link KeysModule.forRoot}. */
export interface KeysModuleOptions {
  /**
   * Run the lifecycle in this process: create missing initial keys at start, retire keys whose
   * grace ended (every second), keep coturn's secret set and the Redis ACL in line (every 30 s).
   * The control process does; gateways only read the ring.
   */
  readonly lifecycle?: boolean;
}

@Injectable()
class KeysLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private sweepTimer: NodeJS.Timeout | null = null;
  private reconcileTimer: NodeJS.Timeout | null = null;
  private sweeping = false;

  constructor(
    @Inject(KEYS) private readonly keys: KeysRuntime,
    @Inject(CONFIG) private readonly config: Config,
    @Inject(HealthChecks) private readonly health: HealthChecks,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject('KEYS_OPTIONS') private readonly options: KeysModuleOptions,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const actor = { actor: { type: 'service' as const, id: this.config.instanceId } };
    this.health.register('keys', () => {
      const active = this.keys.keyring.active('client-token');
      return active
        ? {
            status: 'up',
            store: this.keys.keyring.store.backend,
            version: this.keys.keyring.version,
            clientTokenKey: active.record.fingerprint,
          }
        : {
            status: 'down',
            store: this.keys.keyring.store.backend,
            detail: 'no active client-token key: run `sscontrol init`',
          };
    });
    if (!this.options.lifecycle) return;
    const created = await this.keys.manager.ensureInitialKeys(actor, [
      'client-token',
      'turn-secret',
      'audit-checkpoint',
    ]);
    for (const key of created) {
      this.logger.info(
        { keyId: key.id, kind: key.kind, fingerprint: key.fingerprint },
        'key created',
      );
    }
    const sweep = async () => {
      if (this.sweeping) return;
      this.sweeping = true;
      try {
        const { retired } = await this.keys.manager.sweep(actor);
        for (const key of retired) {
          this.logger.info(
            { keyId: key.id, kind: key.kind, fingerprint: key.fingerprint },
            'key retired: its grace period ended',
          );
        }
      } catch (error) {
        this.logger.error({ err: error }, 'key lifecycle sweep failed; retrying');
      } finally {
        this.sweeping = false;
      }
    };
    this.sweepTimer = setInterval(() => void sweep(), 1000);
    this.sweepTimer.unref();
    this.reconcileTimer = setInterval(() => {
      this.keys.manager
        .reconcile()
        .catch((error: unknown) =>
          this.logger.warn(
            { err: error },
            'could not bring coturn / Redis ACL in line with the key ring',
          ),
        );
    }, 30_000);
    this.reconcileTimer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.reconcileTimer) clearInterval(this.reconcileTimer);
    await this.keys.close();
  }
}

/**
 * The key ring for a NestJS app ({@link KEYS}): opened before the app starts (a wrong master key
 * or corrupt store stops the process), followed live, closed on shutdown.
 */
@Module({})
export class KeysModule {
  static forRoot(options: KeysModuleOptions = {}): DynamicModule {
    return {
      module: KeysModule,
      global: true,
      providers: [
        { provide: 'KEYS_OPTIONS', useValue: options },
        {
          provide: KEYS,
          inject: [CONFIG, AuditRecorder, CheckpointSealer, LOGGER],
          useFactory: (
            config: Config,
            recorder: AuditRecorder,
            sealer: CheckpointSealer,
            logger: Logger,
          ) =>
            KeysRuntime.open({
              config,
              recorder,
              checkpointKeys: {
                active: () => sealer.activeKey(),
                rotate: async () => {
                  await sealer.sealNow();
                  const key = await sealer.rotateKey();
                  return { keyId: key.keyId, fingerprint: key.fingerprint };
                },
              },
              warn: (message) => logger.warn(message),
              onRefreshError: (error) =>
                logger.error(
                  { err: error },
                  'could not refresh the key ring; keeping the last good state',
                ),
            }),
        },
        KeysLifecycle,
      ],
      exports: [KEYS],
    };
  }
}
