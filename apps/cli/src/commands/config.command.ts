import { Command, CommandRunner, SubCommand } from 'nest-commander';
import { redactUrl, settingsTable } from '@sscontrol/config';
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

@Command({
  name: 'config',
  description: 'Configuration: check, doc',
  subCommands: [ConfigCheckCommand, ConfigDocCommand],
})
export class ConfigCommand extends CommandRunner {
  async run(): Promise<void> {
    this.command.help();
  }
}
