import { CommandRunner, SubCommand } from 'nest-commander';
import { CliContext } from '../cli-context.service.js';

@SubCommand({
  name: 'seal',
  description: 'Sign a checkpoint over every event not sealed yet, now.',
})
export class AuditSealCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  async run(): Promise<void> {
    const sealer = await this.context.sealer();
    const cp = await sealer.sealNow();
    if (!sealer.lastCheckpoint && !cp)
      process.stdout.write('nothing to seal: the store is empty\n');
    else if (!cp) {
      const broken = sealer.chainBreak;
      if (broken) {
        process.stdout.write(
          `not sealed: the trail does not verify (${broken.class} at position ${broken.position}); run \`sscontrol audit verify\`\n`,
        );
        process.exitCode = 1;
      } else
        process.stdout.write(
          `nothing new to seal: checkpoint ${sealer.lastCheckpoint!.seq} covers up to position ${sealer.lastCheckpoint!.toPosition}\n`,
        );
    } else
      process.stdout.write(
        `sealed checkpoint ${cp.seq}: positions ${cp.fromPosition}..${cp.toPosition}, signed by ${cp.keyId}\n`,
      );
  }
}
