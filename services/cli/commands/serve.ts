import type { Command } from 'commander';
import { StartupError } from '../../common/errors';
import { ctx } from '../context';
import { serve } from '../serve';

/** `spoofguard serve`: every role of one box in one process. */
export function serveCommand(program: Command): void {
  program
    .command('serve')
    .description('run every role of one box in one process (what npm start runs); SIGTERM stops it cleanly')
    .action(async () => {
      const { config, logger } = ctx();
      try {
        await serve(config, logger);
      } catch (err) {
        if (!(err instanceof StartupError)) throw err;
        // every role was stopped in order: what a half-started role may still hold (a listener of a server
        // that never listened) must not keep the process up
        process.stderr.write(`spoofguard: ${err.message}\n`, () => process.exit(err.exitCode));
      }
    });
}
