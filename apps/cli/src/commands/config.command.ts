import { Command, CommandRunner, SubCommand } from 'nest-commander';
import { envExample, redactUrl, settingsTable } from '@sscontrol/config';
import { CliContext } from '../cli-context.service.js';

@SubCommand({
  name: 'check',
  description:
    'Validate the configuration (environment and .env) and print what it resolves to, secrets hidden.',
})
export class ConfigCheckCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  async run(): Promise<void> {
    const c = this.context.config();
    const lines = [
      'configuration is valid',
      `  data dir        ${c.dataDir}`,
      `  instance        ${c.instanceId}`,
      `  signaling       ${c.signaling.host}:${c.signaling.port}`,
      `  control         ${c.control.host}:${c.control.port}`,
      `  redis           ${redactUrl(c.redis.url.reveal())}`,
      `  event store     ${c.eventStore.backend}${c.eventStore.backend === 'sqlite' ? ` ${c.eventStore.sqlite.path}` : c.eventStore.backend === 'postgres' ? ` ${redactUrl(c.eventStore.postgres.url.reveal())} schema ${c.eventStore.postgres.schema}` : ` ${redactUrl(c.eventStore.kurrentdb.url.reveal())}`}`,
      `  audit anchors   ${c.audit.anchorDir}`,
      `  audit keys      ${c.audit.keysDir}`,
      `  checkpoints     every ${c.audit.checkpointEveryEvents} events or ${c.audit.checkpointEveryMs} ms`,
      `  key store       ${c.keys.store.backend}${c.keys.store.backend === 'file' ? ` ${c.keys.store.file}` : c.keys.store.backend === 'postgres' ? ` ${redactUrl(c.keys.store.url.reveal())} schema ${c.keys.store.schema}` : ''}`,
      `  master key      ${c.keys.masterKey ? 'SSCONTROL_MASTER_KEY' : c.keys.masterKeyFile ? c.keys.masterKeyFile : `not set: ${c.keys.generatedMasterKeyFile ?? 'required in production'}`}`,
      `  turn            realm ${c.turn.realm}, credentials ${c.turn.credentialTtlMs / 1000} s, secret sync ${c.turn.secretSync}, ${c.turn.uris.length} URI(s)`,
      `  tracing         ${c.telemetry.otlpEndpoint ? `OTLP ${c.telemetry.otlpEndpoint}` : 'not exported'} (sample ratio ${c.telemetry.sampleRatio})`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}

@SubCommand({ name: 'doc', description: 'Print the table of every setting (Markdown).' })
export class ConfigDocCommand extends CommandRunner {
  async run(): Promise<void> {
    process.stdout.write(`${settingsTable()}\n`);
  }
}

@SubCommand({
  name: 'example',
  description: 'Print a .env.example listing every setting with its default and meaning.',
})
export class ConfigExampleCommand extends CommandRunner {
  async run(): Promise<void> {
    process.stdout.write(envExample());
  }
}

@Command({
  name: 'config',
  description: 'Configuration: check, doc, example',
  subCommands: [ConfigCheckCommand, ConfigDocCommand, ConfigExampleCommand],
})
export class ConfigCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
