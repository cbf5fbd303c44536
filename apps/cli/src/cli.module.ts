import { Module } from '@nestjs/common';
import { CliContext } from './cli-context.service.js';
import { AuditCheckpointKeyCommand } from './commands/audit-checkpoint-key.command.js';
import { AuditSealCommand } from './commands/audit-seal.command.js';
import { AuditVerifyCommand } from './commands/audit-verify.command.js';
import { AuditCommand } from './commands/audit.command.js';
import {
  ConfigCheckCommand,
  ConfigCommand,
  ConfigDocCommand,
  ConfigExampleCommand,
} from './commands/config.command.js';
import { MigrateCommand } from './commands/migrate.command.js';
import {
  ApiKeysCommand,
  ApiKeysCreateCommand,
  ApiKeysListCommand,
  ApiKeysRevokeCommand,
} from './commands/api-keys.command.js';
import {
  BansAddCommand,
  BansCommand,
  BansListCommand,
  BansRemoveCommand,
  LockdownCommand,
  LockdownOffCommand,
  LockdownOnCommand,
  LockdownStatusCommand,
} from './commands/bans.command.js';
import { InitCommand } from './commands/init.command.js';
import {
  KeysCommand,
  KeysListCommand,
  KeysMintTokenCommand,
  KeysRevokeCommand,
  KeysRevokeTokenCommand,
  KeysRotateCommand,
} from './commands/keys.command.js';

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
    ConfigExampleCommand,
    InitCommand,
    KeysCommand,
    KeysListCommand,
    KeysRotateCommand,
    KeysRevokeCommand,
    KeysRevokeTokenCommand,
    KeysMintTokenCommand,
    ApiKeysCommand,
    ApiKeysCreateCommand,
    ApiKeysListCommand,
    ApiKeysRevokeCommand,
    BansCommand,
    BansAddCommand,
    BansRemoveCommand,
    BansListCommand,
    LockdownCommand,
    LockdownOnCommand,
    LockdownOffCommand,
    LockdownStatusCommand,
  ],
})
export class CliModule {}
