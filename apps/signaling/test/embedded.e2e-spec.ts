import path from 'node:path';
import { createSqliteEventStore } from '@sscontrol/event-store';
import {
  collect,
  freePort,
  runCli,
  startService,
  tempDir,
  type ServiceProcess,
} from '@sscontrol/testing';

/**
 * The README's first command on a fresh machine: signaling and control on the embedded SQLite
 * default, Redis at its default place (here: one on a free port with nothing listening).
 */
describe('embedded mode: signaling and control on SQLite', () => {
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string>;
  let signaling: ServiceProcess;
  let control: ServiceProcess;

  beforeAll(async () => {
    dir = tempDir();
    env = {
      SSCONTROL_DATA_DIR: path.join(dir.path, 'var'),
      SIGNALING_PORT: String(await freePort()),
      CONTROL_PORT: String(await freePort()),
      SIGNALING_HOST: '127.0.0.1',
      CONTROL_HOST: '127.0.0.1',
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      AUDIT_CHECKPOINT_EVERY_MS: '500',
    };
    signaling = startService('signaling', env, dir.path);
    control = startService('control', env, dir.path);
    await Promise.all([
      signaling.waitForLog((l) => String(l.msg).startsWith('signaling gateway listening')),
      control.waitForLog((l) => String(l.msg).startsWith('control API listening')),
    ]);
  });

  afterAll(async () => {
    await Promise.all([signaling.stop('SIGKILL'), control.stop('SIGKILL')]);
    dir.remove();
  });

  it('serves /health on both: up, with the event store and audit trail checked, Redis degraded', async () => {
    for (const port of [env.SIGNALING_PORT, env.CONTROL_PORT]) {
      const res = await fetch(`http://127.0.0.1:${port}/health`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as {
        status: string;
        checks: Record<string, { status: string; backend?: string }>;
      };
      expect(body.status).toBe('degraded');
      expect(body.checks.eventStore).toMatchObject({ status: 'up', backend: 'sqlite' });
      expect(body.checks.audit).toMatchObject({ status: 'up', chain: 'intact' });
      expect(body.checks.redis).toMatchObject({ status: 'degraded' });
    }
  });

  it('serves Prometheus metrics on both', async () => {
    for (const [port, service] of [
      [env.SIGNALING_PORT, 'signaling'],
      [env.CONTROL_PORT, 'control'],
    ] as const) {
      await fetch(`http://127.0.0.1:${port}/health`);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toContain(`sscontrol_build_info{service="${service}",version=`);
      expect(text).toMatch(
        /sscontrol_requests_total\{service="[a-z]+",kind="http",route="\/health",status="2xx"\} \d+/,
      );
      expect(text).toContain('sscontrol_audit_chain_intact 1');
      expect(text).toContain('process_cpu_user_seconds_total');
    }
  });

  it('logs JSON lines with the trace id of each request', async () => {
    await fetch(`http://127.0.0.1:${env.SIGNALING_PORT}/no-such-page`);
    const line = await signaling.waitForLog((l) => l.path === '/no-such-page');
    expect(line).toMatchObject({ level: 'warn', status: 404, service: 'signaling' });
    expect(line.trace_id).toMatch(/^[0-9a-f]{32}$/);
  });

  it('says once that it runs as a single instance and that jobs wait for Redis', () => {
    expect(
      signaling.logs.filter((l) => String(l.msg).includes('running as a single instance')),
    ).toHaveLength(1);
    const waiting = control.logs.filter((l) =>
      String(l.msg).startsWith('scheduled jobs wait for Redis'),
    );
    expect(waiting).toHaveLength(1);
    expect(waiting[0]!.msg).toBe(`scheduled jobs wait for Redis at ${env.REDIS_URL}`);
  });

  it('stops gracefully on SIGTERM, recording the stop and sealing the tail; the trail verifies', async () => {
    const started = Date.now();
    expect(await signaling.stop('SIGTERM')).toBe(0);
    expect(await control.stop('SIGTERM')).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    const store = await createSqliteEventStore({
      path: path.join(env.SSCONTROL_DATA_DIR!, 'events.db'),
    });
    const events = await collect(store.readAll());
    await store.close();
    const types = events.map((e) => e.type);
    expect(types.filter((t) => t === 'instance.started')).toHaveLength(2);
    expect(types.filter((t) => t === 'instance.stopped')).toHaveLength(2);
    expect(types.at(-1)).toBe('audit.checkpointed');
    const verify = await runCli(['audit', 'verify', '--no-record'], env, dir.path);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('audit trail verified: OK');
    expect(verify.stdout).toMatch(/\(0 events not yet sealed\)/);
  });
});
