// The `sscontrol` operator CLI. Commands load configuration and open the event store only when
// they need them; errors are printed as one line and mapped to documented exit statuses.
import { CommandFactory } from 'nest-commander';
import { isConfigError } from '@sscontrol/config';
import { sscontrolVersion } from '@sscontrol/telemetry';
import { CliModule } from './cli.module.js';
import { ExitCode } from '@sscontrol/audit';
import { cliExitCode } from './exit-code.js';

// `sscontrol … | head` closes the pipe early: stop quietly, as Unix tools do, not with a stack.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(ExitCode.Ok);
  throw error;
});

function fail(error: unknown): never {
  if (isConfigError(error)) for (const line of error.lines()) process.stderr.write(`${line}\n`);
  else process.stderr.write(`sscontrol: ${(error as Error).message ?? String(error)}\n`);
  process.exit(cliExitCode(error));
}

try {
  const app = await CommandFactory.createWithoutRunning(CliModule, {
    logger: ['error'],
    version: sscontrolVersion(),
    cliName: 'sscontrol',
    serviceErrorHandler: fail,
    errorHandler: (error: Error & { exitCode?: number; code?: string }) => {
      // commander's own exits: --help and --version succeed, anything else is a usage error.
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      ) {
        process.exit(ExitCode.Ok);
      }
      process.exit(ExitCode.Usage);
    },
  });
  await CommandFactory.runApplication(app);
  await app.close();
} catch (error) {
  fail(error);
}
