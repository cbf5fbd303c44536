import {
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { CONFIG, redactUrl, type Config } from '@sscontrol/config';
import { KEYS, type KeysRuntime } from '@sscontrol/keys';
import { RedisConnection } from '@sscontrol/redis';
import { HealthChecks, LOGGER, Metrics } from '@sscontrol/telemetry';

/**
 * Redis links gateway instances (cross-instance routing, shared bans, resume). Whether this
 * instance uses it for its sessions is decided once, at start (`SIGNALING_CLUSTER`, see
 * signaling-state.provider.ts); the connection keeps reconnecting either way (key ring, bans).
 */
@Injectable()
export class SignalingRedis implements OnApplicationBootstrap, OnApplicationShutdown {
  readonly connection: RedisConnection;

  constructor(
    @Inject(CONFIG) config: Config,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(HealthChecks) private readonly health: HealthChecks,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(KEYS) keys: KeysRuntime,
  ) {
    const password = keys.redisPassword();
    this.connection = new RedisConnection({
      url: config.redis.url.reveal(),
      name: `sscontrol-signaling-${config.instanceId}`,
      ...(password !== undefined ? { password } : {}),
    });
    // A Redis password rotation switches this connection to the new password (AUTH, no reconnect).
    keys.followRedis(this.connection.client);
    const where = redactUrl(config.redis.url.reveal());
    this.connection.on('unavailable', () => {
      metrics.redisUp.set(0);
      logger.warn({ redis: where, error: this.connection.error }, `Redis unavailable at ${where}`);
    });
    this.connection.on('ready', () => {
      metrics.redisUp.set(1);
      logger.info({ redis: where }, `Redis ready at ${where}`);
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    this.metrics.redisUp.set(0);
    this.health.register('redis', () =>
      this.connection.state === 'ready'
        ? { status: 'up' }
        : {
            status: 'degraded',
            detail: 'Redis is not reachable',
            error: this.connection.error,
          },
    );
    await this.connection.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.connection.close();
  }
}

@Module({ providers: [SignalingRedis], exports: [SignalingRedis] })
export class SignalingRedisModule {}
