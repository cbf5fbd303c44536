import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { parseDuration } from '@sscontrol/config';
import { RedisBanList, RedisLockdown, parseBanTarget } from '@sscontrol/limits';
import { CliContext } from '../cli-context.service.js';
import { parseOptions } from '../parse-options.js';

/**
 * Bans and lockdown live in Redis, where every gateway instance of a cluster
 * (`SIGNALING_CLUSTER=redis`) follows them within a second. A single instance with its state in
 * memory cannot be reached from here.
 */
async function withRedis<T>(context: CliContext, run: (redis: Redis) => Promise<T>): Promise<T> {
  const config = context.config();
  const keys = await context.keys();
  const password = keys.redisPassword();
  const redis = new Redis(config.redis.url.reveal(), {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5000,
    retryStrategy: () => null,
    ...(password !== undefined ? { password } : {}),
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}

const reason = z.string().min(1).max(500).optional();
const ttl = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const ms = parseDuration(v);
    if (ms === null || ms < 1000) {
      ctx.addIssue({ code: 'custom', message: 'a duration such as 90s, 10m, 2h or 7d' });
      return z.NEVER;
    }
    return ms;
  });
const target = z.string().transform((v, ctx) => {
  try {
    return parseBanTarget(v).target;
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
    return z.NEVER;
  }
});

@SubCommand({
  name: 'add',
  arguments: '<target>',
  description:
    'Ban an IP address or CIDR on every gateway: open connections from it are closed (4451), new ones refused.',
})
export class BansAddCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({ flags: '--ttl <duration>', description: 'lift it after this long (default: never)' })
  parseTtl(v: string): string {
    return v;
  }

  @Option({ flags: '--reason <text>', description: 'why (recorded in the audit trail)' })
  parseReason(v: string): string {
    return v;
  }

  async run(params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(z.strictObject({ ttl, reason }), raw, 'bans add');
    const t = parseOptions(target, params[0], 'bans add');
    const expiresAt = o.ttl === undefined ? null : new Date(Date.now() + o.ttl).toISOString();
    const recorder = await this.context.recorder();
    // Recorded first: a ban the trail cannot show is not made.
    await recorder.record(
      'ban.added',
      { target: t, ...(o.reason ? { reason: o.reason } : {}), expiresAt },
      { actor: this.context.actor(), correlationId: this.context.requestId },
    );
    const entry = await this.context.attempt('bans.add', `ban:${t}`, () =>
      withRedis(this.context, async (redis) => {
        const bans = new RedisBanList({ client: redis });
        return bans.add(t, {
          ...(o.ttl !== undefined ? { ttlMs: o.ttl } : {}),
          ...(o.reason ? { reason: o.reason } : {}),
        });
      }),
    );
    await this.context.recordAction('bans.add', 'succeeded', {
      target: `ban:${t}`,
      parameters: { expiresAt },
    });
    process.stdout.write(
      `banned ${entry.target}${entry.expiresAt ? ` until ${entry.expiresAt}` : ''}\n`,
    );
  }
}

@SubCommand({ name: 'remove', arguments: '<target>', description: 'Lift a ban.' })
export class BansRemoveCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({ flags: '--reason <text>', description: 'why (recorded in the audit trail)' })
  parseReason(v: string): string {
    return v;
  }

  async run(params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(z.strictObject({ reason }), raw, 'bans remove');
    const t = parseOptions(target, params[0], 'bans remove');
    const recorder = await this.context.recorder();
    await recorder.record(
      'ban.removed',
      { target: t, ...(o.reason ? { reason: o.reason } : {}) },
      { actor: this.context.actor(), correlationId: this.context.requestId },
    );
    const removed = await this.context.attempt('bans.remove', `ban:${t}`, () =>
      withRedis(this.context, (redis) => new RedisBanList({ client: redis }).remove(t)),
    );
    await this.context.recordAction('bans.remove', 'succeeded', { target: `ban:${t}` });
    process.stdout.write(removed ? `ban on ${t} lifted\n` : `${t} was not banned\n`);
  }
}

@SubCommand({ name: 'list', description: 'List the bans in force.' })
export class BansListCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  async run(): Promise<void> {
    const bans = await withRedis(this.context, async (redis) => {
      const list = new RedisBanList({ client: redis });
      await list.start();
      try {
        return await list.list();
      } finally {
        await list.close();
      }
    });
    if (bans.length === 0) {
      process.stdout.write('no bans\n');
      return;
    }
    for (const b of bans) {
      process.stdout.write(
        `${b.target.padEnd(44)} ${b.expiresAt ?? 'permanent'.padEnd(24)} ${b.reason ?? ''}\n`,
      );
    }
  }
}

@Command({
  name: 'bans',
  description: 'Banned client addresses and networks, shared by every gateway: add, remove, list',
  subCommands: [BansAddCommand, BansRemoveCommand, BansListCommand],
})
export class BansCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}

@SubCommand({
  name: 'on',
  description: 'Refuse new connections and sessions on every gateway (4423).',
})
export class LockdownOnCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({ flags: '--drop-existing', description: 'also close the open connections' })
  parseDrop(): boolean {
    return true;
  }

  @Option({ flags: '--reason <text>', description: 'why (recorded in the audit trail)' })
  parseReason(v: string): string {
    return v;
  }

  async run(_params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(
      z.strictObject({ dropExisting: z.boolean().optional(), reason }),
      raw,
      'lockdown on',
    );
    const dropExisting = o.dropExisting === true;
    await (
      await this.context.recorder()
    ).record(
      'lockdown.enabled',
      { dropExisting, ...(o.reason ? { reason: o.reason } : {}) },
      { actor: this.context.actor(), correlationId: this.context.requestId },
    );
    await this.context.attempt('lockdown.on', 'lockdown', () =>
      withRedis(this.context, (redis) =>
        new RedisLockdown({ client: redis }).set({
          dropExisting,
          ...(o.reason ? { reason: o.reason } : {}),
        }),
      ),
    );
    await this.context.recordAction('lockdown.on', 'succeeded', {
      target: 'lockdown',
      parameters: { dropExisting },
    });
    process.stdout.write(
      `lockdown on${dropExisting ? ': open connections are being closed' : ''}\n`,
    );
  }
}

@SubCommand({ name: 'off', description: 'End the lockdown.' })
export class LockdownOffCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({ flags: '--reason <text>', description: 'why (recorded in the audit trail)' })
  parseReason(v: string): string {
    return v;
  }

  async run(_params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(z.strictObject({ reason }), raw, 'lockdown off');
    await (
      await this.context.recorder()
    ).record(
      'lockdown.disabled',
      { ...(o.reason ? { reason: o.reason } : {}) },
      { actor: this.context.actor(), correlationId: this.context.requestId },
    );
    await this.context.attempt('lockdown.off', 'lockdown', () =>
      withRedis(this.context, (redis) => new RedisLockdown({ client: redis }).clear()),
    );
    await this.context.recordAction('lockdown.off', 'succeeded', { target: 'lockdown' });
    process.stdout.write('lockdown off\n');
  }
}

@SubCommand({ name: 'status', description: 'Whether the cluster is locked down.' })
export class LockdownStatusCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  async run(): Promise<void> {
    const state = await withRedis(this.context, async (redis) => {
      const lockdown = new RedisLockdown({ client: redis });
      await lockdown.start();
      try {
        return lockdown.state();
      } finally {
        await lockdown.close();
      }
    });
    process.stdout.write(
      state.enabled
        ? `lockdown on since ${state.since}${state.dropExisting ? ' (dropping connections)' : ''}${state.reason ? `: ${state.reason}` : ''}\n`
        : 'lockdown off\n',
    );
  }
}

@Command({
  name: 'lockdown',
  description: 'Cluster-wide lockdown of the gateways: on, off, status',
  subCommands: [LockdownOnCommand, LockdownOffCommand, LockdownStatusCommand],
})
export class LockdownCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
