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
    await this.migrateEventStore();
    // The key ring's table lives in the same migrations; its database may be another one.
    const k = config.keys.store;
    const e = config.eventStore;
    if (
      k.backend === 'postgres' &&
      (e.backend !== 'postgres' ||
        k.url.reveal() !== e.postgres.url.reveal() ||
        k.schema !== e.postgres.schema)
    ) {
      const report = await migratePostgres(k.url.reveal(), k.schema);
      process.stdout.write(
        `key store schema "${report.schema}" is up to date (${report.applied.length} applied now)\n`,
      );
    }
  }

  private async migrateEventStore(): Promise<void> {
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
