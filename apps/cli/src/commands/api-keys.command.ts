import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { z } from 'zod';
import { OPERATOR_ROLES } from '@sscontrol/keys';
import { CliContext } from '../cli-context.service.js';
import { parseOptions } from '../parse-options.js';
import { keysTable } from './keys.command.js';

@SubCommand({
  name: 'create',
  description:
    'Create an operator API key for the control API. It is printed once and stored only as a keyed hash.',
})
export class ApiKeysCreateCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({ flags: '--label <name>', description: 'who or what uses it', required: true })
  parseLabel(v: string): string {
    return v;
  }

  @Option({
    flags: '--role <role>',
    description: `one of ${OPERATOR_ROLES.join(', ')}`,
    required: true,
  })
  parseRole(v: string): string {
    return v;
  }

  async run(_params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(
      z.strictObject({ label: z.string().min(1).max(100), role: z.enum(OPERATOR_ROLES) }),
      raw,
      'api-keys create',
    );
    const keys = await this.context.keys();
    const issued = await this.context.attempt('api-keys.create', undefined, () =>
      keys.manager.createApiKey(o, {
        actor: this.context.actor(),
        correlationId: this.context.requestId,
      }),
    );
    // The key exists nowhere else: print it before anything that could still fail.
    process.stdout.write(
      `API key ${issued.key.id} for "${o.label}" (${o.role}); shown once, store it now:\n${issued.apiKey}\n`,
    );
    await this.context.recordAction('api-keys.create', 'succeeded', {
      target: `key:${issued.key.id}`,
      parameters: { label: o.label, role: o.role },
    });
  }
}

@SubCommand({
  name: 'list',
  description: 'List operator API keys (id, label, role, status, fingerprint).',
})
export class ApiKeysListCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  async run(): Promise<void> {
    const keys = await this.context.keys();
    process.stdout.write(keysTable(keys.keyring.list('operator-api')));
  }
}

@SubCommand({
  name: 'revoke',
  arguments: '<keyId>',
  description: 'Revoke an operator API key now.',
})
export class ApiKeysRevokeCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({ flags: '--reason <text>', description: 'why (recorded in the audit trail)' })
  parseReason(v: string): string {
    return v;
  }

  async run(params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(
      z.strictObject({ reason: z.string().min(1).max(500).optional() }),
      raw,
      'api-keys revoke',
    );
    const keyId = parseOptions(
      z.string().regex(/^op_[a-z2-7]{16}$/, 'expected an API key id such as op_…'),
      params[0],
      'api-keys revoke',
    );
    const keys = await this.context.keys();
    const key = await this.context.attempt('api-keys.revoke', `key:${keyId}`, () =>
      keys.manager.revokeKey(keyId, o.reason, {
        actor: this.context.actor(),
        correlationId: this.context.requestId,
      }),
    );
    await this.context.recordAction('api-keys.revoke', 'succeeded', { target: `key:${keyId}` });
    process.stdout.write(`API key ${key.id} (${key.label ?? ''}) revoked\n`);
  }
}

@Command({
  name: 'api-keys',
  description: 'Operator API keys of the control API: create, list, revoke',
  subCommands: [ApiKeysCreateCommand, ApiKeysListCommand, ApiKeysRevokeCommand],
})
export class ApiKeysCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
