import { type Command, Option } from 'commander';
import { randomBytes } from 'node:crypto';
import { InputError } from '../../common/errors';
import { Shutdown } from '../../common/shutdown';
import { hashToken } from '../../console/auth';
import { ctx, out } from '../context';
import { processOps, startConsole } from '../roles';

/** `spoofguard console` and `console token`. */
export function consoleCommands(program: Command): void {
  const consoleCommand = program
    .command('console')
    .description("the analysts' and admins' HTTP API and dashboard, with /metrics and /health; SIGTERM stops it")
    .action(async () => {
      const { config, logger } = ctx();
      const shutdown = new Shutdown(logger);
      const stopped = shutdown.listen();
      await startConsole(config, logger, shutdown, processOps('console'));
      await stopped;
    });
  consoleCommand
    .command('token')
    .description('make a new API token; prints the token once and the config entry that holds only its hash')
    .requiredOption('--name <name>', 'who or what uses it (letters, digits, . _ @ -)')
    .addOption(
      new Option('--role <role>', 'analyst reads the log; admin also changes lists')
        .choices(['analyst', 'admin'])
        .makeOptionMandatory(),
    )
    .action((o: { name: string; role: 'analyst' | 'admin' }) => {
      if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(o.name)) throw new InputError('--name: 1-64 of A-Z a-z 0-9 _ . @ -');
      const token = randomBytes(24).toString('base64url');
      out(
        `token (shown once, give it to ${o.name}): ${token}\n\n` +
          `config/local.yaml:\n  console:\n    tokens:\n      ${o.name}: { role: ${o.role}, sha256: ${hashToken(token)} }\n\n` +
          `or SPOOFGUARD_CONSOLE_TOKENS='${JSON.stringify({ [o.name]: { role: o.role, sha256: hashToken(token) } })}'\n`,
      );
    });
}
