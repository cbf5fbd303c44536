import { CommandRunner, SubCommand } from 'nest-commander';
import { CheckpointKeys } from '@sscontrol/audit';
import { CliContext } from '../cli-context.service.js';
import { UsageError } from '@sscontrol/audit';

@SubCommand({
  name: 'checkpoint-key',
  arguments: '<action>',
  description:
    '`show`: print the active checkpoint public key (PEM) to keep out of band for offline verification. `rotate`: start signing with a new key, endorsed by the current one.',
})
export class AuditCheckpointKeyCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  async run([action]: string[]): Promise<void> {
    const config = this.context.config();
    switch (action) {
      case 'show': {
        const store = await this.context.store();
        const key = new CheckpointKeys(
          config.audit.keysDir,
          store.info.storeId,
          this.context.masterKey(),
        ).active().public;
        process.stdout.write(`# ${key.keyId} sha256:${key.fingerprint}\n${key.publicKey}`);
        return;
      }
      case 'rotate': {
        const sealer = await this.context.sealer();
        await sealer.sealNow();
        const key = await sealer.rotateKey();
        await this.context.recorder().then((r) =>
          r.record(
            'operator.actionPerformed',
            {
              operatorId: this.context.actor().id,
              role: 'local',
              action: 'audit.rotateCheckpointKey',
              target: key.keyId,
              outcome: 'succeeded',
              requestId: `cli-${process.pid}-${Date.now()}`,
            },
            { actor: this.context.actor() },
          ),
        );
        process.stdout.write(
          `checkpoint key rotated: now signing with ${key.keyId} (endorsed by ${key.endorsedBy})\n`,
        );
        return;
      }
      default:
        throw new UsageError(
          `audit checkpoint-key: unknown action ${JSON.stringify(action)} (expected show or rotate)`,
        );
    }
  }
}
