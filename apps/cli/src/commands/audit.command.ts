import { Command, CommandRunner } from 'nest-commander';
import { AuditCheckpointKeyCommand } from './audit-checkpoint-key.command.js';
import { AuditSealCommand } from './audit-seal.command.js';
import { AuditVerifyCommand } from './audit-verify.command.js';

@Command({
  name: 'audit',
  description: 'Audit trail: verify, seal, checkpoint keys',
  subCommands: [AuditVerifyCommand, AuditSealCommand, AuditCheckpointKeyCommand],
})
export class AuditCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
