import path from 'node:path';
import Database from 'better-sqlite3';
import {
  createTestPostgresSchema,
  runCli,
  startService,
  tempDir,
  freePort,
} from '@sscontrol/testing';

describe('sscontrol CLI', () => {
  let dir: ReturnType<typeof tempDir>;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, env, dir.path);

  beforeEach(() => {
    dir = tempDir();
    env = { SSCONTROL_DATA_DIR: path.join(dir.path, 'var') };
  });
  afterEach(() => dir.remove());

  it('prints help and its version, and refuses unknown commands and bad arguments with exit 2', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const command of ['migrate', 'audit', 'config']) expect(help.stdout).toContain(command);
    expect((await cli('--version')).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect((await cli('frobnicate')).code).toBe(2);
    const bad = await cli('audit', 'verify', '--from', '-3');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^sscontrol: --from: /);
    expect((await cli('audit', 'verify', '--trusted-key', '/nonexistent.pem')).code).toBe(2);
    expect((await cli('config', 'doc')).stdout).toContain('| `SIGNALING_PORT` | `8080` |');
  });

  it('seals, verifies, and reports tampering with position, stream and class, exit 1', async () => {
    expect((await cli('audit', 'seal')).stdout).toMatch(/nothing to seal|sealed checkpoint 1/);
    for (let i = 0; i < 3; i++) expect((await cli('audit', 'verify')).code).toBe(0);
    const sealed = await cli('audit', 'seal');
    expect(sealed.stdout).toMatch(
      /^sealed checkpoint \d+: positions \d+\.\.\d+, signed by ck-[0-9a-f]{16}\n$/,
    );
    const ok = await cli('audit', 'verify', '--json', '--no-record');
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout) as {
      ok: boolean;
      checkedEvents: number;
      checkpoints: number;
    };
    expect(report).toMatchObject({ ok: true });
    expect(report.checkpoints).toBeGreaterThanOrEqual(1);

    const db = new Database(path.join(env.SSCONTROL_DATA_DIR!, 'events.db'));
    const row = db
      .prepare('SELECT position, stream_id FROM events WHERE type = ? LIMIT 1')
      .get('audit.verified') as { position: number; stream_id: string };
    db.prepare(
      `UPDATE events SET data = replace(data, '"ok":true', '"ok":false') WHERE position = ?`,
    ).run(row.position);
    db.close();
    const failed = await cli('audit', 'verify', '--no-record');
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain(
      `audit trail verification FAILED: modified at position ${row.position} (stream ${row.stream_id})`,
    );
  });

  it('shows the checkpoint public key for offline trust, and keeps verifying across a rotation', async () => {
    await cli('audit', 'seal');
    const shown = await cli('audit', 'checkpoint-key', 'show');
    expect(shown.stdout).toMatch(
      /^# ck-[0-9a-f]{16} sha256:[0-9a-f]{64}\n-----BEGIN PUBLIC KEY-----/,
    );
    const keyFile = path.join(dir.path, 'first.pem');
    await import('node:fs').then((fs) =>
      fs.writeFileSync(keyFile, shown.stdout.split('\n').slice(1).join('\n')),
    );
    const rotated = await cli('audit', 'checkpoint-key', 'rotate');
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/now signing with ck-[0-9a-f]{16} \(endorsed by ck-/);
    await cli('audit', 'seal');
    const offline = await cli(
      'audit',
      'verify',
      '--no-anchors',
      '--trusted-key',
      keyFile,
      '--no-record',
    );
    expect(offline.stdout).toContain('audit trail verified: OK');
    expect(offline.stdout).toMatch(/keys trusted ck-[0-9a-f]{16}, ck-[0-9a-f]{16}/);
    expect((await cli('audit', 'checkpoint-key', 'burn')).code).toBe(2);
  });

  it('migrates PostgreSQL; a gateway refuses an unmigrated schema and starts once migrated', async () => {
    const db = await createTestPostgresSchema({ migrate: false });
    try {
      env = {
        ...env,
        EVENT_STORE: 'postgres',
        EVENT_STORE_POSTGRES_URL: db.url,
        EVENT_STORE_POSTGRES_SCHEMA: db.schema,
        SIGNALING_PORT: String(await freePort()),
        SIGNALING_HOST: '127.0.0.1',
        REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      };
      const refused = startService('signaling', env, dir.path);
      expect(await refused.exited).not.toBe(0);
      expect([...refused.text, ...refused.logs.map((l) => JSON.stringify(l))].join('\n')).toContain(
        'run `sscontrol migrate`',
      );
      const migrated = await cli('migrate');
      expect(migrated.code).toBe(0);
      expect(migrated.stdout).toContain('applied          0001_event_store');
      expect((await cli('migrate')).stdout).toContain('already applied  0001_event_store');
      const gateway = startService('signaling', env, dir.path);
      await gateway.waitForLog((l) => String(l.msg).startsWith('signaling gateway listening'));
      const health = (await (
        await fetch(`http://127.0.0.1:${env.SIGNALING_PORT}/health`)
      ).json()) as { checks: Record<string, unknown> };
      expect(health.checks.eventStore).toMatchObject({ status: 'up', backend: 'postgres' });
      expect(await gateway.stop()).toBe(0);
      expect((await cli('audit', 'verify', '--no-record')).code).toBe(0);
    } finally {
      await db.drop();
    }
  });
});
