import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { AuditRecorder, verificationRecord, verifyAuditTrail } from '@sscontrol/audit';
import { CONFIG, eventStoreConnection, redactUrl, type Config } from '@sscontrol/config';
import { EVENT_STORE, type EventStore } from '@sscontrol/event-store';
import {
  MAINTENANCE_JOBS,
  MAINTENANCE_QUEUE,
  type MaintenanceJobData,
  type MaintenanceJobName,
} from '@sscontrol/jobs';
import { KEYS, type KeysRuntime } from '@sscontrol/keys';
import { RedisConnection } from '@sscontrol/redis';
import { HealthChecks, LOGGER, Metrics } from '@sscontrol/telemetry';

type Handler = (
  job: Job<MaintenanceJobData>,
) => Promise<Record<string, string | number | boolean | null>>;

/**
 * Runs the maintenance schedules. Without Redis it says once that scheduled jobs wait for it,
 * keeps trying, and registers the schedulers and starts the worker as soon as Redis answers.
 */
@Injectable()
export class MaintenanceWorker implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly probe: RedisConnection;
  private queue: Queue | null = null;
  private worker: Worker | null = null;
  private readonly handlers: Record<MaintenanceJobName, Handler>;
  private readonly where: string;

  constructor(
    @Inject(CONFIG) private readonly config: Config,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(AuditRecorder) private readonly recorder: AuditRecorder,
    @Inject(LOGGER) private readonly logger: Logger,
    @Inject(HealthChecks) private readonly health: HealthChecks,
    @Inject(Metrics) private readonly metrics: Metrics,
    @Inject(KEYS) private readonly keys: KeysRuntime,
  ) {
    this.where = redactUrl(config.redis.url.reveal());
    const password = keys.redisPassword();
    this.probe = new RedisConnection({
      url: config.redis.url.reveal(),
      name: `sscontrol-control-${config.instanceId}`,
      ...(password !== undefined ? { password } : {}),
    });
    keys.followRedis(this.probe.client);
    // BullMQ's own connections take a password at creation: after a Redis password rotation
    // the queue and worker are reopened with the new one (every job is safe to run again).
    keys.keyring.on('changed', () => {
      if (this.worker && this.jobsPassword !== keys.redisPassword()) {
        void this.restartJobs().catch((error: unknown) =>
          this.logger.error(
            { err: error },
            'could not reopen scheduled jobs with the new Redis password',
          ),
        );
      }
    });
    this.handlers = { 'audit-verify': (job) => this.auditVerify(job) };
  }

  async onApplicationBootstrap(): Promise<void> {
    this.metrics.redisUp.set(0);
    this.health.register('redis', () =>
      this.probe.state === 'ready'
        ? { status: 'up' }
        : { status: 'degraded', detail: 'scheduled jobs wait for Redis', error: this.probe.error },
    );
    this.health.register('jobs', () => ({
      status: this.worker ? 'up' : 'degraded',
      running: this.worker !== null,
    }));
    this.probe.on('unavailable', () => {
      this.metrics.redisUp.set(0);
      if (!this.worker)
        this.logger.warn(
          { redis: this.where, error: this.probe.error },
          `scheduled jobs wait for Redis at ${this.where}`,
        );
      else
        this.logger.warn(
          { redis: this.where, error: this.probe.error },
          `Redis at ${this.where} went away: scheduled jobs pause until it is back`,
        );
    });
    this.probe.on('ready', () => {
      this.metrics.redisUp.set(1);
      void this.startJobs().catch((error: unknown) =>
        this.logger.error({ err: error }, 'could not start scheduled jobs'),
      );
    });
    await this.probe.start();
  }

  private jobsPassword: string | undefined;

  private async restartJobs(): Promise<void> {
    await this.stopJobs();
    await this.startJobs();
    this.logger.info('scheduled jobs reopened with the rotated Redis password');
  }

  private async stopJobs(): Promise<void> {
    // worker.close() can hang while Redis is unreachable (bullmq#4656): bound it, then force.
    const worker = this.worker;
    this.worker = null;
    if (worker) {
      await Promise.race([worker.close(), new Promise((r) => setTimeout(r, 10_000).unref())]);
      await worker.close(true).catch(() => undefined);
    }
    const queue = this.queue;
    this.queue = null;
    await queue?.close().catch(() => undefined);
  }

  private async startJobs(): Promise<void> {
    if (this.worker) return;
    this.jobsPassword = this.keys.redisPassword();
    const connection = {
      ...parseRedisUrl(this.config.redis.url.reveal()),
      ...(this.jobsPassword !== undefined ? { password: this.jobsPassword } : {}),
      maxRetriesPerRequest: null,
    };
    this.queue = new Queue(MAINTENANCE_QUEUE, { connection });
    for (const [name, schedule] of Object.entries(MAINTENANCE_JOBS)) {
      await this.queue.upsertJobScheduler(
        name,
        { pattern: schedule.pattern, tz: schedule.tz },
        { name, data: {} },
      );
    }
    this.worker = new Worker<MaintenanceJobData>(MAINTENANCE_QUEUE, (job) => this.run(job), {
      connection,
      concurrency: 1,
      autorun: true,
    });
    this.worker.on('error', (error) =>
      this.logger.error({ err: error }, 'maintenance worker error'),
    );
    this.logger.info(
      { redis: this.where, jobs: Object.keys(MAINTENANCE_JOBS) },
      `Redis is available at ${this.where}: scheduled jobs started`,
    );
  }

  private async run(job: Job<MaintenanceJobData>) {
    const name = job.name as MaintenanceJobName;
    const handler = this.handlers[name];
    if (!handler) throw new UnrecoverableError(`no handler for job ${job.name}`);
    const runKey = job.id ?? `${name}-${Date.now()}`;
    const actor = { type: 'system' as const, id: `job:${name}` };
    const started = performance.now();
    await this.recorder.record(
      'job.started',
      { jobId: runKey, name, runKey, attempt: job.attemptsMade + 1 },
      { actor },
    );
    try {
      const summary = await handler(job);
      await this.recorder.record(
        'job.succeeded',
        {
          jobId: runKey,
          name,
          runKey,
          durationMs: Math.round(performance.now() - started),
          verified: true,
          summary,
        },
        { actor },
      );
      return summary;
    } catch (error) {
      await this.recorder.record(
        'job.failed',
        {
          jobId: runKey,
          name,
          runKey,
          durationMs: Math.round(performance.now() - started),
          attempt: job.attemptsMade + 1,
          error: (error as Error).message.slice(0, 2000),
          retryable: !(error instanceof UnrecoverableError),
        },
        { actor },
      );
      this.logger.error({ err: error, job: name }, `job ${name} failed`);
      throw error;
    }
  }

  private async auditVerify(_job: Job<MaintenanceJobData>) {
    const report = await verifyAuditTrail({
      store: this.store,
      settings: eventStoreConnection(this.config),
      anchorDir: this.config.audit.anchorDir,
    });
    await this.recorder.record('audit.verified', verificationRecord(report), {
      actor: { type: 'system', id: 'job:audit-verify' },
    });
    if (!report.ok) {
      this.metrics.chainIntact.set(0);
      throw new UnrecoverableError(
        `audit trail does not verify: ${report.failure!.class} at position ${report.failure!.position}: ${report.failure!.detail}`,
      );
    }
    return {
      checked: report.checkedEvents,
      checkpoints: report.checkpoints,
      durationMs: report.durationMs,
      unsealed: report.unsealedEvents,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.stopJobs();
    await this.probe.close();
  }
}

/** ioredis connection options from a redis:// URL (BullMQ takes options, not URLs). */
export function parseRedisUrl(url: string): {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: object;
} {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname.length > 1 ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
