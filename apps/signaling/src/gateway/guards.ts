import type { IncomingMessage } from 'node:http';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Logger } from 'pino';
import type { connectionRejectionReasons } from '@sscontrol/audit';
import { CONFIG, type Config } from '@sscontrol/config';
import { LOGGER } from '@sscontrol/telemetry';
import { SIGNALING_STATE } from '../cluster/signaling-state.provider.js';
import type { SignalingState } from '../cluster/state.js';
import {
  ConnectionLimiter,
  MemoryBanList,
  MemoryLockdown,
  RedisBanList,
  RedisLockdown,
  TokenBucket,
  createClientAddressResolver,
  createOriginPolicy,
  type BanList,
  type ClientAddressResolver,
  type Lockdown,
  type OriginPolicy,
} from '@sscontrol/limits';
import { SignalingRedis } from '../signaling-redis.module.js';
import { CloseCode } from './close-codes.js';
import type { Connection } from './connection.js';

type RejectionReason = (typeof connectionRejectionReasons)[number];

/** Why a connection is refused before authentication, and how it is reported. */
export interface Refusal {
  readonly code: CloseCode;
  readonly reason: string;
  /** The `connection.rejected` reason, or null when not recorded (a repeat within the minute). */
  readonly audit: RejectionReason | null;
  /** The `sscontrol_limit_hits_total` label, or null. */
  readonly limit: string | null;
}

/**
 * What a connection must get past before and after authentication, in this order: bans (4451),
 * the `Origin` (4406), lockdown (4423), the per-address and per-instance connection limits
 * (4429), then — per message — the connection's token bucket. Bans and lockdown live in Redis
 * when the instance is a cluster member (shared, followed within a second), else in memory.
 * Refusals of one address are recorded once a minute, so a flood of attempts cannot become a
 * flood of audit events.
 */
@Injectable()
export class SignalingGuards implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly buckets = new WeakMap<Connection, TokenBucket>();
  private readonly limiter: ConnectionLimiter;
  private readonly resolve: ClientAddressResolver;
  private readonly originAllowed: OriginPolicy;
  readonly bans: BanList;
  readonly lockdown: Lockdown;
  private readonly listeners: ((what: 'bans' | 'lockdown') => void)[] = [];
  /** Addresses whose ban/origin refusal was recorded in the current minute. */
  private recorded = new Set<string>();
  private recordedMinute = 0;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(SIGNALING_STATE) state: SignalingState,
    @Inject(SignalingRedis) redis: SignalingRedis,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    const s = config.signaling;
    this.resolve = createClientAddressResolver(s.trustProxy);
    this.originAllowed = createOriginPolicy(s.allowedOrigins);
    this.limiter = new ConnectionLimiter({
      connectionsPerIp: s.connectionsPerIp,
      connectionRatePerIp: s.connectionRatePerIp,
      maxConnections: s.maxConnections,
    });
    const onError = (error: unknown) =>
      logger.warn({ err: error }, 'bans or lockdown could not be read from Redis; retrying');
    if (state.mode === 'redis') {
      this.bans = new RedisBanList({ client: redis.connection.client, onError });
      this.lockdown = new RedisLockdown({ client: redis.connection.client, onError });
    } else {
      this.bans = new MemoryBanList();
      this.lockdown = new MemoryLockdown();
    }
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.bans.start();
    await this.lockdown.start();
    this.bans.onChange(({ added }) => {
      if (added.length > 0) this.notify('bans');
    });
    this.lockdown.onChange((state) => {
      this.logger.warn(
        { lockdown: state.enabled, dropExisting: state.dropExisting, reason: state.reason },
        state.enabled ? 'lockdown on: new connections and sessions refused' : 'lockdown off',
      );
      this.notify('lockdown');
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.bans.close();
    await this.lockdown.close();
  }

  private notify(what: 'bans' | 'lockdown'): void {
    for (const l of this.listeners) l(what);
  }

  clientAddress(req: IncomingMessage): string {
    return this.resolve(req);
  }

  /** Bans, origin, lockdown: the checks before any limit budget is spent. */
  admit(req: IncomingMessage, ip: string): Refusal | null {
    if (this.bans.match(ip)) return this.refusal(CloseCode.Banned, 'ip_banned', ip);
    if (!this.originAllowed(req)) {
      return this.refusal(CloseCode.OriginForbidden, 'origin_forbidden', ip);
    }
    if (this.lockdown.state().enabled) return this.refusal(CloseCode.Lockdown, 'lockdown', ip);
    return null;
  }

  private refusal(
    code: CloseCode,
    reason: 'ip_banned' | 'origin_forbidden' | 'lockdown',
    ip: string,
  ): Refusal {
    const minute = Math.floor(Date.now() / 60_000);
    if (minute !== this.recordedMinute) {
      this.recordedMinute = minute;
      this.recorded = new Set();
    }
    const key = `${reason} ${ip}`;
    const first = !this.recorded.has(key) && this.recorded.size < 100_000;
    if (first) this.recorded.add(key);
    return { code, reason, audit: first ? reason : null, limit: reason };
  }

  /** Takes a connection slot for the address: a release function, or the limit refused. */
  openConnection(
    ip: string,
  ): (() => void) | { limit: 'connection_rate' | 'concurrent_connections'; repeat: boolean } {
    const outcome = this.limiter.tryOpen(ip);
    if (outcome.ok) return () => outcome.release();
    return { limit: outcome.limit, repeat: outcome.repeat };
  }

  takeMessage(c: Connection): boolean {
    let bucket = this.buckets.get(c);
    if (!bucket) {
      bucket = new TokenBucket({
        rate: this.config.signaling.messageRate,
        burst: this.config.signaling.messageBurst,
      });
      this.buckets.set(c, bucket);
    }
    return bucket.take();
  }

  /** The connection keeps sending while refused (10× the burst before the bucket refills): close it. */
  floods(c: Connection): boolean {
    return this.buckets.get(c)?.flooding ?? false;
  }

  lockedDown(): boolean {
    return this.lockdown.state().enabled;
  }

  dropsExisting(): boolean {
    const state = this.lockdown.state();
    return state.enabled && state.dropExisting;
  }

  banned(ip: string): boolean {
    return this.bans.match(ip) !== null;
  }

  onChange(listener: (what: 'bans' | 'lockdown') => void): void {
    this.listeners.push(listener);
  }
}
