import { Module } from '@nestjs/common';
import { CliContext } from './cli-context.service.js';
import { AuditCheckpointKeyCommand } from './commands/audit-checkpoint-key.command.js';
import { AuditSealCommand } from './commands/audit-seal.command.js';
import { AuditVerifyCommand } from './commands/audit-verify.command.js';
import { AuditCommand } from './commands/audit.command.js';
import { ConfigCheckCommand, ConfigCommand, ConfigDocCommand } from './commands/config.command.js';
import { MigrateCommand } from './commands/migrate.command.js';

/** The operator CLI: thin commands over the libraries' services. */
@Module({
  providers: [
    CliContext,
    MigrateCommand,
    AuditCommand,
    AuditVerifyCommand,
    AuditSealCommand,
    AuditCheckpointKeyCommand,
    ConfigCommand,
    ConfigCheckCommand,
    ConfigDocCommand,
  ],
})
export class CliModule {}
