import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, ConfigErrorCode } from './config.errors.js';
import { eventStoreConnection, loadConfig, settingsTable } from './config.js';
import { SETTINGS } from './settings.js';
import { Secret } from './secret.js';

const load = (env: Record<string, string>, cwd = '/srv/sscontrol') =>
  loadConfig({ service: 'control', env, envFile: false, cwd });

function issues(env: Record<string, string>): string[] {
  try {
    load(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).code).toBe(ConfigErrorCode.Invalid);
    return (error as ConfigError).lines();
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('runs the embedded mode with no settings at all', () => {
    const c = load({});
    expect(c.signaling.port).toBe(8080);
    expect(c.control.port).toBe(8081);
    expect(c.dataDir).toBe('/srv/sscontrol/var');
    expect(c.eventStore).toMatchObject({
      backend: 'sqlite',
      sqlite: { path: '/srv/sscontrol/var/events.db' },
    });
    expect(c.audit).toMatchObject({
      checkpointEveryEvents: 10_000,
      checkpointEveryMs: 60_000,
      anchorDir: '/srv/sscontrol/var/audit-anchors',
    });
    expect(c.redis.url.reveal()).toBe('redis://127.0.0.1:6379');
    expect(c.instanceId).toMatch(/-control$/);
    expect(Object.isFrozen(c) && Object.isFrozen(c.signaling)).toBe(true);
  });

  it('reports every bad variable at once, one line each, naming it and what is expected', () => {
    const lines = issues({
      SIGNALING_PORT: 'eighty',
      CONTROL_PORT: '70000',
      EVENT_STORE: 'mysql',
      LOG_LEVEL: 'loud',
    });
    expect(lines).toEqual([
      'sscontrol: invalid setting LOG_LEVEL: expected one of trace, debug, info, warn, error, fatal, silent, got "loud"',
      'sscontrol: invalid setting SIGNALING_PORT: expected an integer port from 0 to 65535, got "eighty"',
      'sscontrol: invalid setting CONTROL_PORT: expected an integer port from 0 to 65535, got "70000"',
      'sscontrol: invalid setting EVENT_STORE: expected one of sqlite, postgres, kurrentdb, got "mysql"',
    ]);
  });

  it('never echoes a secret value in an error', () => {
    const lines = issues({ REDIS_URL: 'http://user:hunter2-very-secret@example.com' });
    expect(lines).toEqual([
      'sscontrol: invalid setting REDIS_URL: expected a redis:// or rediss:// URL, got a value that is not shown because it is secret',
    ]);
    expect(lines.join('')).not.toContain('hunter2');
  });

  it('requires the URL of the chosen server backend', () => {
    expect(issues({ EVENT_STORE: 'postgres' })).toEqual([
      'sscontrol: invalid setting EVENT_STORE_POSTGRES_URL: expected a postgres:// URL (required when EVENT_STORE=postgres), it is not set',
    ]);
    const c = load({
      EVENT_STORE: 'postgres',
      EVENT_STORE_POSTGRES_URL: 'postgres://app:pw-123456@db:5432/sscontrol',
    });
    expect(eventStoreConnection(c)).toMatchObject({
      backend: 'postgres',
      postgres: { url: 'postgres://app:pw-123456@db:5432/sscontrol', schema: 'sscontrol' },
    });
  });

  it('types secrets so that printing them shows [redacted], and registers only credentials for scrubbing', () => {
    const c = load({
      REDIS_URL: 'redis://:s3cret-password@redis:6379',
      OTEL_EXPORTER_OTLP_HEADERS: 'x-api-key=abcdef123456',
    });
    expect(String(c.redis.url)).toBe('[redacted]');
    expect(JSON.stringify(c)).not.toContain('s3cret-password');
    expect(JSON.stringify(c)).not.toContain('abcdef123456');
    expect(Secret.registry.has('s3cret-password')).toBe(true);
    expect(Secret.registry.has('redis://127.0.0.1:6379')).toBe(false);
  });

  it('reads .env under the environment, the environment winning', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    writeFileSync(path.join(dir, '.env'), 'SIGNALING_PORT=9000\nCONTROL_PORT=9001\n# comment\n');
    const c = loadConfig({ service: 'signaling', env: { CONTROL_PORT: '9101' }, cwd: dir });
    expect(c.signaling.port).toBe(9000);
    expect(c.control.port).toBe(9101);
  });

  it('treats an empty variable as unset', () => {
    expect(load({ SIGNALING_PORT: '' }).signaling.port).toBe(8080);
  });

  it('documents every setting in the generated table', () => {
    const table = settingsTable();
    for (const name of Object.keys(SETTINGS)) expect(table).toContain(`\`${name}\``);
  });
});
