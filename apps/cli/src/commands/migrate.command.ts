import { Command, CommandRunner } from 'nest-commander';
import { migratePostgres } from '@sscontrol/event-store';
import { CliContext } from '../cli-context.service.js';

@Command({
  name: 'migrate',
  description:
    'Apply the event store schema (PostgreSQL: migrations/postgres, under an advisory lock, idempotent). SQLite creates its schema itself.',
})
export class MigrateCommand extends CommandRunner {
  constructor(private readonly context: CliContext) {
    super();
  }

  async run(): Promise<void> {
    const config = this.context.config();
    const s = config.eventStore;
    switch (s.backend) {
      case 'postgres': {
        const report = await migratePostgres(s.postgres.url.reveal(), s.postgres.schema);
        for (const m of report.alreadyApplied) process.stdout.write(`already applied  ${m}\n`);
        for (const m of report.applied) process.stdout.write(`applied          ${m}\n`);
        process.stdout.write(
          `schema "${report.schema}" is up to date (${report.applied.length} applied now)\n`,
        );
        return;
      }
      case 'sqlite': {
        const store = await this.context.store();
        process.stdout.write(
          `SQLite store ${store.info.location} is created and upgraded when opened; it is up to date\n`,
        );
        return;
      }
      case 'kurrentdb':
        process.stdout.write('KurrentDB needs no schema migration\n');
        return;
    }
  }
}
