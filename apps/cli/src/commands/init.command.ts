import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommandRunner, Option } from 'nest-commander';
import { isConfigError } from '@sscontrol/config';
import { MasterKey, statusAt } from '@sscontrol/keys';
import { CliContext } from '../cli-context.service.js';
import { keysTable } from './keys.command.js';

/** True when the only configuration problem is the missing master key (production). */
function onlyMasterKeyMissing(error: unknown): boolean {
  return (
    isConfigError(error) &&
    error.issues.length > 0 &&
    error.issues.every((i) => i.variable === 'SSCONTROL_MASTER_KEY')
  );
}

@Command({
  name: 'init',
  description:
    'First start: make sure a master key exists (generating one into the env file if none is configured), create the initial keys (client tokens, TURN secret, audit checkpoints) and the first admin API key, printed once. Safe to run again: nothing existing is replaced.',
})
export class InitCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({
    flags: '--env-file <file>',
    description: 'where a generated master key is written (default .env)',
  })
  parseEnvFile(v: string): string {
    return v;
  }

  @Option({
    flags: '--admin-label <name>',
    description: 'label of the first admin API key (default "initial admin")',
  })
  parseLabel(v: string): string {
    return v;
  }

  async run(_params: string[], raw: Record<string, unknown>): Promise<void> {
    const envFile = path.resolve(typeof raw.envFile === 'string' ? raw.envFile : '.env');
    const label = typeof raw.adminLabel === 'string' ? raw.adminLabel : 'initial admin';
    const out = (line = '') => process.stdout.write(`${line}\n`);

    let config;
    try {
      config = this.context.config();
    } catch (error) {
      if (!onlyMasterKeyMissing(error)) throw error;
    }
    if (!config || (!config.keys.masterKey && !config.keys.masterKeyFile)) {
      const existing = existsSync(envFile) ? readFileSync(envFile, 'utf8') : '';
      if (/^\s*SSCONTROL_MASTER_KEY\s*=/m.test(existing)) {
        throw new Error(
          `${envFile} sets SSCONTROL_MASTER_KEY but it was not loaded; check the file`,
        );
      }
      const key = MasterKey.generate();
      if (existsSync(envFile))
        appendFileSync(
          envFile,
          `${existing.endsWith('\n') || !existing ? '' : '\n'}SSCONTROL_MASTER_KEY=${key}\n`,
        );
      else writeFileSync(envFile, `SSCONTROL_MASTER_KEY=${key}\n`, { mode: 0o600 });
      chmodSync(envFile, 0o600);
      out(`master key: generated and written to ${envFile} (mode 0600) as SSCONTROL_MASTER_KEY.`);
      out(
        '  It decrypts every secret in the key store: keep a copy offline (a password manager or',
      );
      out(
        '  a sealed envelope), and in production inject it from your secret manager instead of a file.',
      );
      out('  Lose it and the key ring cannot be opened: you would re-run init with a new store.');
      this.context.reload();
      this.context.config();
    } else {
      out(
        `master key: configured (${config.keys.masterKey ? 'SSCONTROL_MASTER_KEY' : config.keys.masterKeyFile})`,
      );
    }

    const keys = await this.context.keys();
    const actor = { actor: this.context.actor(), correlationId: this.context.requestId };
    const created = await keys.manager.ensureInitialKeys(actor, [
      'client-token',
      'turn-secret',
      'audit-checkpoint',
    ]);
    out(
      created.length
        ? `initial keys created: ${created.map((k) => `${k.kind} ${k.id}`).join(', ')}`
        : 'initial keys: already present',
    );
    const now = Date.now();
    const admins = (keys.keyring.document?.keys ?? []).filter(
      (k) =>
        k.kind === 'operator-api' &&
        k.role === 'admin' &&
        ['active', 'retiring'].includes(statusAt(k, now)),
    );
    if (admins.length === 0) {
      const issued = await keys.manager.createApiKey({ label, role: 'admin' }, actor);
      await this.context.recordAction('api-keys.create', 'succeeded', {
        target: `key:${issued.key.id}`,
        parameters: { label, role: 'admin', init: true },
      });
      out();
      out(`first admin API key (${issued.key.id}), shown once; store it now:`);
      out(`  ${issued.apiKey}`);
      out('  use it as: curl -H "Authorization: Bearer <key>" http://<host>:8081/v1/whoami');
    } else {
      out(
        `admin API keys: ${admins.map((k) => k.id).join(', ')} exist; create more with \`sscontrol api-keys create --role admin\``,
      );
    }
    await this.context.recordAction('system.init', 'succeeded', {
      parameters: { keysCreated: created.length, adminCreated: admins.length === 0 },
    });
    out();
    out(keysTable(keys.keyring.list()).trimEnd());
  }
}
