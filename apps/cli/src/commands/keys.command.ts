import { Command, CommandRunner, Option, SubCommand } from 'nest-commander';
import { z } from 'zod';
import { parseDuration } from '@sscontrol/config';
import { KEY_KINDS, type KeyInfo, type KeyKind, type RotationResult } from '@sscontrol/keys';
import { CliContext } from '../cli-context.service.js';
import { parseOptions } from '../parse-options.js';

const duration = z.string().transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration such as 90s, 10m, 2h, 1d' });
    return z.NEVER;
  }
  return ms;
});
const kindList = z
  .array(z.string())
  .transform((values) =>
    values
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.enum(KEY_KINDS, { message: `expected one of ${KEY_KINDS.join(', ')}` })).min(1));
const reason = z.string().min(1).max(500);

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** A fixed-width table of keys. */
export function keysTable(keys: readonly KeyInfo[]): string {
  const rows = keys.map((k) => [
    k.kind,
    k.id,
    k.status,
    k.fingerprint,
    k.createdAt.replace(/\.\d+Z$/, 'Z'),
    k.revokedAt
      ? `revoked ${k.revokedAt.replace(/\.\d+Z$/, 'Z')}`
      : k.retireAt
        ? `${k.status === 'retiring' ? 'retires' : 'retired'} ${k.retireAt.replace(/\.\d+Z$/, 'Z')}`
        : '',
    k.role ? `${k.label ?? ''} (${k.role})` : (k.label ?? ''),
  ]);
  const header = ['KIND', 'ID', 'STATUS', 'FINGERPRINT', 'CREATED', 'RETIREMENT', 'LABEL'];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return `${all
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

/** What an immediate revocation does beyond the ring, per kind. */
const IMMEDIATE_EFFECT: Record<KeyKind, string> = {
  'client-token': ': gateways disconnect every client that authenticated with it',
  'turn-secret':
    ": removed from coturn's secret set (new allocations refused; relays already allocated run until they end)",
  'operator-api': ': the control API refuses it',
  'redis-password': ': removed from the Redis ACL user (processes already use the new one)',
  'audit-checkpoint': '',
};

function describeRotation(r: RotationResult): string {
  if (r.skipped) return `${r.kind}: not rotated: ${r.skipped}`;
  const lines = [
    `${r.kind}: ${r.created.map((k) => `${k.id} (${k.fingerprint})`).join(', ') || 'nothing to replace'} now active`,
  ];
  for (const old of r.replaced) {
    lines.push(
      r.immediate
        ? `  ${old.id} revoked now${IMMEDIATE_EFFECT[r.kind]}`
        : r.kind === 'audit-checkpoint'
          ? `  ${old.id} retired (its signatures stay verifiable)`
          : `  ${old.id} keeps verifying until ${old.retireAt} (grace ${Math.round(r.graceMs / 1000)} s)`,
    );
  }
  for (const issued of r.apiKeys) {
    lines.push(
      `  new API key for "${issued.key.label}" (${issued.key.role}), shown once: ${issued.apiKey}`,
    );
  }
  return lines.join('\n');
}

@SubCommand({
  name: 'list',
  description: 'Show the key ring: every key, its status and fingerprint (never its material).',
})
export class KeysListCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({ flags: '--kind <kind>', description: `only this kind (${KEY_KINDS.join(', ')})` })
  parseKind(v: string): string {
    return v;
  }

  @Option({ flags: '--json', description: 'JSON output' })
  parseJson(): boolean {
    return true;
  }

  async run(_params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(
      z.strictObject({ kind: z.enum(KEY_KINDS).optional(), json: z.boolean().optional() }),
      raw,
      'keys list',
    );
    const keys = await this.context.keys();
    const list = keys.keyring.list(o.kind);
    process.stdout.write(
      o.json
        ? `${JSON.stringify({ version: keys.keyring.version, keys: list }, null, 2)}\n`
        : keysTable(list),
    );
  }
}

@SubCommand({
  name: 'rotate',
  description:
    'Replace the active key of each kind. The old key keeps verifying for the grace period, then retires; --immediate revokes it and disconnects every client that used it. TURN secrets stay in coturn for one credential lifetime; the Redis password switches through Redis ACLs.',
})
export class KeysRotateCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({
    flags: '--kind <kind>',
    description: `kind to rotate, repeatable or comma-separated (${KEY_KINDS.join(', ')})`,
  })
  parseKind(v: string, previous?: string[]): string[] {
    return collect(v, previous);
  }

  @Option({ flags: '--all', description: 'every kind (breach response)' })
  parseAll(): boolean {
    return true;
  }

  @Option({
    flags: '--grace <duration>',
    description:
      'how long replaced keys keep verifying, e.g. 10m (default: KEY_ROTATION_GRACE; TURN: TURN_CREDENTIAL_TTL)',
  })
  parseGrace(v: string): string {
    return v;
  }

  @Option({
    flags: '--immediate',
    description: 'revoke replaced keys now and disconnect their clients',
  })
  parseImmediate(): boolean {
    return true;
  }

  @Option({ flags: '--reason <text>', description: 'why (recorded in the audit trail)' })
  parseReason(v: string): string {
    return v;
  }

  @Option({ flags: '--json', description: 'JSON output (includes new API keys)' })
  parseJson(): boolean {
    return true;
  }

  async run(_params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(
      z
        .strictObject({
          kind: kindList.optional(),
          all: z.boolean().optional(),
          grace: duration.optional(),
          immediate: z.boolean().optional(),
          reason: reason.optional(),
          json: z.boolean().optional(),
        })
        .refine((v) => Boolean(v.kind) !== Boolean(v.all), {
          message: 'give --kind or --all (not both)',
        })
        .refine((v) => !(v.grace !== undefined && v.immediate), {
          message: '--grace and --immediate exclude each other',
        }),
      raw,
      'keys rotate',
    );
    const kinds: KeyKind[] = o.all ? [...KEY_KINDS] : o.kind!;
    const parameters = {
      kinds: kinds.join(','),
      immediate: o.immediate === true,
      ...(o.grace !== undefined ? { graceMs: o.grace } : {}),
      ...(o.reason ? { reason: o.reason } : {}),
    };
    const keys = await this.context.keys();
    let results: RotationResult[];
    try {
      results = await keys.manager.rotate(
        {
          kinds,
          ...(o.all ? { all: true } : {}),
          ...(o.grace !== undefined ? { graceMs: o.grace } : {}),
          ...(o.immediate ? { immediate: true } : {}),
          ...(o.reason ? { reason: o.reason } : {}),
        },
        { actor: this.context.actor(), correlationId: this.context.requestId },
      );
    } catch (error) {
      await this.context
        .recordAction('keys.rotate', 'failed', {
          parameters,
          error: (error as Error).message.slice(0, 1000),
        })
        .catch(() => undefined);
      throw error;
    }
    // New API keys exist nowhere else: print them before anything that could still fail.
    process.stdout.write(
      o.json
        ? `${JSON.stringify({ rotations: results }, null, 2)}\n`
        : `${results.map(describeRotation).join('\n')}\n`,
    );
    await this.context.recordAction('keys.rotate', 'succeeded', {
      target: `kinds:${kinds.join(',')}`,
      parameters,
    });
  }
}

@SubCommand({
  name: 'revoke',
  arguments: '<keyId>',
  description:
    'Revoke one key now: it stops verifying on every instance within a second and its clients are disconnected.',
})
export class KeysRevokeCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({ flags: '--reason <text>', description: 'why (recorded in the audit trail)' })
  parseReason(v: string): string {
    return v;
  }

  async run(params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(z.strictObject({ reason: reason.optional() }), raw, 'keys revoke');
    const keyId = parseOptions(
      z.string().regex(/^[a-z]{2}_[0-9a-z]{10,40}$/, 'expected a key id such as ct_…'),
      params[0],
      'keys revoke',
    );
    const keys = await this.context.keys();
    const key = await this.context.attempt('keys.revoke', `key:${keyId}`, () =>
      keys.manager.revokeKey(keyId, o.reason, {
        actor: this.context.actor(),
        correlationId: this.context.requestId,
      }),
    );
    await this.context.recordAction('keys.revoke', 'succeeded', {
      target: `key:${keyId}`,
      ...(o.reason ? { parameters: { reason: o.reason } } : {}),
    });
    process.stdout.write(`${key.kind} key ${key.id} (${key.fingerprint}) revoked\n`);
  }
}

@SubCommand({
  name: 'revoke-token',
  arguments: '<tokenId>',
  description:
    'Put a client token id on the revocation list until the token expires; gateways refuse it and drop its connections.',
})
export class KeysRevokeTokenCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({
    flags: '--expires-at <time>',
    description: "the token's expiry (ISO 8601); default: now + CLIENT_TOKEN_MAX_TTL",
  })
  parseExpires(v: string): string {
    return v;
  }

  @Option({ flags: '--reason <text>', description: 'why (recorded in the audit trail)' })
  parseReason(v: string): string {
    return v;
  }

  async run(params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(
      z.strictObject({
        expiresAt: z.iso.datetime({ offset: true }).optional(),
        reason: reason.optional(),
      }),
      raw,
      'keys revoke-token',
    );
    const tokenId = parseOptions(
      z.string().regex(/^[\x21-\x7e]{1,200}$/, 'expected a token id'),
      params[0],
      'keys revoke-token',
    );
    const keys = await this.context.keys();
    const expiresAt = o.expiresAt
      ? new Date(o.expiresAt)
      : new Date(Date.now() + keys.config.keys.clientTokenMaxTtlMs);
    await this.context.attempt('tokens.revoke', `token:${tokenId}`, () =>
      keys.manager.revokeToken(
        { tokenId, expiresAt, ...(o.reason ? { reason: o.reason } : {}) },
        { actor: this.context.actor(), correlationId: this.context.requestId },
      ),
    );
    await this.context.recordAction('tokens.revoke', 'succeeded', { target: `token:${tokenId}` });
    process.stdout.write(`token ${tokenId} revoked until ${expiresAt.toISOString()}\n`);
  }
}

@SubCommand({
  name: 'mint-token',
  description:
    'Mint a client token (for a device or user) with the active client-token key and print it.',
})
export class KeysMintTokenCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  @Option({ flags: '--subject <id>', description: 'device or user id', required: true })
  parseSubject(v: string): string {
    return v;
  }

  @Option({ flags: '--role <role>', description: 'host or controller', required: true })
  parseRole(v: string): string {
    return v;
  }

  @Option({
    flags: '--session <id>',
    description: 'session the token grants (repeatable; * for any)',
    required: true,
  })
  parseSession(v: string, previous?: string[]): string[] {
    return collect(v, previous);
  }

  @Option({ flags: '--ttl <duration>', description: 'lifetime (default CLIENT_TOKEN_TTL)' })
  parseTtl(v: string): string {
    return v;
  }

  @Option({ flags: '--json', description: 'JSON output' })
  parseJson(): boolean {
    return true;
  }

  async run(_params: string[], raw: Record<string, unknown>): Promise<void> {
    const o = parseOptions(
      z.strictObject({
        subject: z.string(),
        role: z.enum(['host', 'controller']),
        session: z.array(z.string()).min(1),
        ttl: duration.optional(),
        json: z.boolean().optional(),
      }),
      raw,
      'keys mint-token',
    );
    const keys = await this.context.keys();
    const minted = await this.context.attempt('tokens.mint', `subject:${o.subject}`, () =>
      keys.tokens.mint({
        subject: o.subject,
        role: o.role,
        sessions: o.session,
        ttlSeconds: Math.floor((o.ttl ?? keys.config.keys.clientTokenTtlMs) / 1000),
      }),
    );
    await this.context.recordAction('tokens.mint', 'succeeded', {
      target: `token:${minted.tokenId}`,
      parameters: {
        subject: o.subject,
        role: o.role,
        sessions: o.session.join(','),
        keyId: minted.keyId,
      },
    });
    process.stdout.write(
      o.json
        ? `${JSON.stringify({ ...minted, expiresAt: minted.expiresAt.toISOString() })}\n`
        : `${minted.token}\n`,
    );
  }
}

@Command({
  name: 'keys',
  description: 'Key ring: list, rotate, revoke keys and tokens, mint client tokens',
  subCommands: [
    KeysListCommand,
    KeysRotateCommand,
    KeysRevokeCommand,
    KeysRevokeTokenCommand,
    KeysMintTokenCommand,
  ],
})
export class KeysCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
