import { readFileSync } from 'node:fs';
import { createPublicKey } from 'node:crypto';
import { CommandRunner, Option, SubCommand } from 'nest-commander';
import { z } from 'zod';
import { verificationRecord, verifyAuditTrail, type VerifyReport } from '@sscontrol/audit';
import { eventStoreConnection } from '@sscontrol/config';
import { CliContext } from '../cli-context.service.js';
import { ExitCode, UsageError } from '@sscontrol/audit';
import { ProgressBar } from '../progress-bar.js';

const position = z.coerce.number().int().min(0);
const options = z.strictObject({
  from: position.optional(),
  to: position.optional(),
  json: z.boolean().optional(),
  trustedKey: z.array(z.string()).optional(),
  anchors: z.boolean().optional(),
  workers: z.coerce.number().int().min(1).max(16).optional(),
  progress: z.boolean().optional(),
  record: z.boolean().optional(),
});
type Options = z.infer<typeof options>;

function readKey(file: string): string {
  let pem: string;
  try {
    pem = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`--trusted-key ${file}: ${(error as Error).message}`);
  }
  try {
    if (createPublicKey(pem).asymmetricKeyType !== 'ed25519') throw new Error('not an Ed25519 key');
  } catch (error) {
    throw new UsageError(
      `--trusted-key ${file}: expected an Ed25519 public key (PEM): ${(error as Error).message}`,
    );
  }
  return pem;
}

function n(v: number): string {
  return v.toLocaleString('en-US');
}

/** Human-readable report. */
export function formatReport(r: VerifyReport): string {
  const lines: string[] = [];
  if (r.ok) lines.push('audit trail verified: OK');
  else {
    const f = r.failure!;
    lines.push(
      `audit trail verification FAILED: ${f.class} at position ${n(f.position)}${f.streamId ? ` (stream ${f.streamId})` : ''}`,
    );
    lines.push(`  ${f.detail}`);
  }
  lines.push(`  store        ${r.backend} ${r.storeId}`);
  lines.push(
    `  events       ${n(r.from)}..${n(r.to)}: ${n(r.checkedEvents)} checked in ${(r.durationMs / 1000).toFixed(2)} s`,
  );
  lines.push(
    `  checkpoints  ${n(r.checkpoints)}, sealed up to position ${n(r.lastSealedPosition)} (${n(r.unsealedEvents)} ${r.unsealedEvents === 1 ? 'event' : 'events'} not yet sealed)`,
  );
  lines.push(`  keys trusted ${r.trustedKeyIds.join(', ') || 'none'}`);
  for (const w of r.warnings) lines.push(`  warning      ${w}`);
  return `${lines.join('\n')}\n`;
}

@SubCommand({
  name: 'verify',
  description:
    'Verify the audit trail: the hash chain of every event, every signed checkpoint (signature, trusted key, sequence), and the copies kept outside the store. Exit 1 on the first failure, reported with its position, stream and class (modified, deleted, inserted, reordered, truncated, bad_signature, unknown_key).',
})
export class AuditVerifyCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  async run(_params: string[], raw: Record<string, unknown>): Promise<void> {
    const parsed = options.safeParse(raw);
    if (!parsed.success)
      throw new UsageError(
        parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; '),
      );
    const o: Options = parsed.data;
    if (o.from !== undefined && o.to !== undefined && o.to < o.from)
      throw new UsageError('--to must not be before --from');
    const config = this.context.config();
    const trustedKeys = (o.trustedKey ?? []).map(readKey);
    const store = await this.context.store();
    const bar = new ProgressBar(
      'verifying',
      o.progress ?? (process.stderr.isTTY === true && !o.json),
    );
    const report = await verifyAuditTrail({
      store,
      settings: eventStoreConnection(config),
      ...(o.anchors === false ? {} : { anchorDir: config.audit.anchorDir }),
      trustedKeys,
      ...(o.from !== undefined ? { from: o.from } : {}),
      ...(o.to !== undefined ? { to: o.to } : {}),
      ...(o.workers !== undefined ? { workers: o.workers } : {}),
      onProgress: (done, total) => bar.update(done, total),
    });
    bar.done();
    if (o.record !== false) {
      const recorder = await this.context.recorder();
      await recorder.record('audit.verified', verificationRecord(report), {
        actor: this.context.actor(),
      });
    }
    process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    if (!report.ok) process.exitCode = ExitCode.IntegrityFailure;
  }

  @Option({ flags: '--from <position>', description: 'verify events after this global position' })
  parseFrom(v: string): string {
    return v;
  }

  @Option({
    flags: '--to <position>',
    description: 'verify up to this global position (default: the head)',
  })
  parseTo(v: string): string {
    return v;
  }

  @Option({ flags: '--json', description: 'print the report as JSON' })
  parseJson(): boolean {
    return true;
  }

  @Option({
    flags: '--trusted-key <file>',
    description:
      'an Ed25519 public key (PEM) trusted out of band; repeatable. Keys in the anchor directory are trusted too.',
  })
  parseTrustedKey(v: string, previous: string[] = []): string[] {
    return [...previous, v];
  }

  @Option({
    flags: '--no-anchors',
    description: 'ignore AUDIT_ANCHOR_DIR (truncation then goes undetected)',
  })
  parseAnchors(): boolean {
    return false;
  }

  @Option({
    flags: '--workers <n>',
    description: 'worker threads reading the store (default: 2 above 200,000 events)',
  })
  parseWorkers(v: string): string {
    return v;
  }

  @Option({
    flags: '--progress',
    description: 'draw the progress bar even when stderr is not a terminal',
  })
  parseProgress(): boolean {
    return true;
  }

  @Option({ flags: '--no-record', description: 'do not record an audit.verified event' })
  parseRecord(): boolean {
    return false;
  }
}
