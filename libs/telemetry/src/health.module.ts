import {
  Controller,
  Get,
  HttpStatus,
  Inject,
  Injectable,
  Module,
  Res,
  type DynamicModule,
} from '@nestjs/common';
import type { Response } from 'express';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TerminusModule,
} from '@nestjs/terminus';

/** What one dependency reports. `down` makes the process unhealthy (503); `degraded` does not. */
export interface HealthCheckResult {
  readonly status: 'up' | 'degraded' | 'down';
  readonly detail?: string;
  readonly [key: string]: unknown;
}

/** Named health checks that modules register; `/health` runs them all. */
@Injectable()
export class HealthChecks {
  private readonly checks = new Map<string, () => Promise<HealthCheckResult> | HealthCheckResult>();

  register(name: string, check: () => Promise<HealthCheckResult> | HealthCheckResult): void {
    this.checks.set(name, check);
  }

  async run(): Promise<{
    status: 'ok' | 'degraded' | 'down';
    checks: Record<string, HealthCheckResult>;
  }> {
    const checks: Record<string, HealthCheckResult> = {};
    await Promise.all(
      [...this.checks].map(async ([name, check]) => {
        try {
          checks[name] = await Promise.race([
            Promise.resolve(check()),
            new Promise<HealthCheckResult>((resolve) =>
              setTimeout(
                () => resolve({ status: 'down', detail: 'timed out after 2 s' }),
                2000,
              ).unref(),
            ),
          ]);
        } catch (error) {
          checks[name] = { status: 'down', detail: (error as Error).message };
        }
      }),
    );
    const statuses = Object.values(checks).map((c) => c.status);
    const status = statuses.includes('down')
      ? 'down'
      : statuses.includes('degraded')
        ? 'degraded'
        : 'ok';
    return { status, checks };
  }
}

/** Identity reported by `/health`. */
export interface HealthIdentity {
  readonly service: string;
  readonly instance: string;
  readonly version: string;
}

const IDENTITY = Symbol('sscontrol.health.identity');
const started = Date.now();

@Controller()
class HealthController {
  constructor(
    @Inject(HealthChecks) private readonly checks: HealthChecks,
    @Inject(IDENTITY) private readonly identity: HealthIdentity,
  ) {}

  /** 200 while the process can do its job (possibly degraded), 503 when a required dependency is down. */
  @Get('health')
  async health(@Res({ passthrough: true }) res: Response) {
    const result = await this.checks.run();
    res.status(result.status === 'down' ? HttpStatus.SERVICE_UNAVAILABLE : HttpStatus.OK);
    res.setHeader('Cache-Control', 'no-store');
    return {
      status: result.status,
      ...this.identity,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      checks: result.checks,
    };
  }
}

/**
 * `/ready` (terminus): 200 only when every registered dependency is `up` — a load balancer or
 * orchestrator sends traffic only then; `degraded` (e.g. Redis missing, single-instance mode) is
 * alive for `/health` but not ready.
 */
@Controller()
class ReadyController {
  constructor(
    @Inject(HealthChecks) private readonly checks: HealthChecks,
    @Inject(HealthCheckService) private readonly health: HealthCheckService,
    @Inject(HealthIndicatorService) private readonly indicators: HealthIndicatorService,
  ) {}

  @Get('ready')
  @HealthCheck()
  async ready() {
    const result = await this.checks.run();
    return this.health.check(
      Object.entries(result.checks).map(([name, check]) => () => {
        const indicator = this.indicators.check(name);
        const { status, ...data } = check;
        return status === 'up' ? indicator.up(data) : indicator.down({ ...data, state: status });
      }),
    );
  }
}

/** Serves `/health` and `/ready`, and lets any module register a check with {@link HealthChecks}. */
@Module({})
export class HealthModule {
  static forRoot(identity: HealthIdentity): DynamicModule {
    return {
      module: HealthModule,
      global: true,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, ReadyController],
      providers: [HealthChecks, { provide: IDENTITY, useValue: identity }],
      exports: [HealthChecks],
    };
  }
}
