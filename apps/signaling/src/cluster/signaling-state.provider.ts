import type { Provider } from '@nestjs/common';
import type { Logger } from 'pino';
import { CONFIG, redactUrl, type Config } from '@sscontrol/config';
import { LOGGER } from '@sscontrol/telemetry';
import { SignalingRedis } from '../signaling-redis.module.js';
import { MemoryState } from './memory-state.js';
import { RedisState } from './redis-state.js';
import type { SignalingState } from './state.js';

/** Injection token of the {@link SignalingState} this instance uses. */
export const SIGNALING_STATE = Symbol('SIGNALING_STATE');

/** How long `auto` waits for Redis at start before running as a single instance. */
const AUTO_WAIT_MS = 3000;

async function ready(redis: SignalingRedis, timeoutMs: number): Promise<boolean> {
  if (redis.connection.state === 'ready') return true;
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.connection.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), timeoutMs);
    redis.connection.on('ready', onReady);
  });
}

/**
 * Chooses the state at start (`SIGNALING_CLUSTER`): Redis (a cluster member) or memory (one
 * instance). The choice holds until restart: an instance never splits its sessions between two
 * stores. `redis` waits for Redis as long as it takes; `auto` waits a few seconds.
 */
export const signalingStateProvider: Provider = {
  provide: SIGNALING_STATE,
  inject: [CONFIG, SignalingRedis, LOGGER],
  useFactory: async (
    config: Config,
    redis: SignalingRedis,
    logger: Logger,
  ): Promise<SignalingState> => {
    const where = redactUrl(config.redis.url.reveal());
    if (config.signaling.cluster === 'none') {
      logger.info('SIGNALING_CLUSTER=none: single instance, sessions in memory');
      return new MemoryState();
    }
    const start = redis.connection.start();
    if (config.signaling.cluster === 'redis') {
      await start;
      while (!(await ready(redis, 10_000))) {
        logger.warn({ redis: where }, `waiting for Redis at ${where} (SIGNALING_CLUSTER=redis)`);
      }
    } else if (!(await ready(redis, AUTO_WAIT_MS))) {
      logger.warn(
        { redis: where },
        `Redis at ${where} did not answer within ${AUTO_WAIT_MS} ms: running as a single instance (sessions in memory) until restart`,
      );
      return new MemoryState();
    }
    logger.info({ redis: where }, `cluster member: sessions and routing shared through ${where}`);
    return new RedisState(redis.connection.client);
  },
};
