import { Command } from 'commander';
import { z } from 'zod';
import { SpoofguardError } from '../common/errors';
import { callsCommands } from './commands/calls';
import { configCommand } from './commands/config';
import { consoleCommands } from './commands/console';
import { listCommands } from './commands/list';
import { reportCommand } from './commands/report';
import { roleCommands } from './commands/roles';
import { screenCommands } from './commands/screen';
import { serveCommand } from './commands/serve';
import { ctx, out } from './context';

/** The `spoofguard` command: each subcommand's body lives in services/cli/commands/. */
export function buildProgram(): Command {
  const program = new Command('spoofguard')
    .description('Telephony fraud warnings: screens caller IDs that pose as brands (first Amazon).')
    .showHelpAfterError();
  screenCommands(program);
  listCommands(program);
  roleCommands(program);
  consoleCommands(program);
  callsCommands(program, () => ctx().config, out);
  reportCommand(program, () => ctx().config, out);
  serveCommand(program);
  configCommand(program);
  return program;
}

/** The central error handler: our errors print their message and exit code, anything else its stack. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof SpoofguardError) {
      process.stderr.write(`spoofguard: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof z.ZodError) {
      process.stderr.write(`spoofguard: ${z.prettifyError(err)}\n`);
      process.exitCode = 65;
    } else {
      process.stderr.write(`spoofguard: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  }
}

if (require.main === module) void main(process.argv);
