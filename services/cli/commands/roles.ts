import type { Command } from 'commander';
import { Shutdown } from '../../common/shutdown';
import { ctx } from '../context';
import { processOps, runCallRole, startOps, startWorker } from '../roles';

/** `spoofguard worker`, `ari`, `sip` and `kamailio`: one role each, until SIGTERM. */
export function roleCommands(program: Command): void {
  program
    .command('worker')
    .description('write flagged-call events from the queue to the log; SIGTERM finishes the batch in hand')
    .action(async () => {
      const { config, logger } = ctx();
      const shutdown = new Shutdown(logger);
      const stopped = shutdown.listen();
      const ops = processOps('worker');
      await startWorker(config, logger, shutdown, ops);
      await startOps(config, logger, shutdown, ops);
      await stopped;
    });

  program
    .command('ari')
    .description(
      'the Asterisk Stasis app: screen every inbound call, warn the subscriber before connecting; SIGTERM lets calls finish',
    )
    .action(async () => {
      const { config, logger } = ctx();
      await runCallRole('ari', config, logger);
    });

  program
    .command('sip')
    .description(
      'the SIP front for carriers (drachtio-srf): screen every INVITE, pass clean calls on, send warned ones to the IVR, reject blocked ones with 608',
    )
    .action(async () => {
      const { config, logger } = ctx();
      await runCallRole('sip', config, logger);
    });

  program
    .command('kamailio')
    .description(
      "the screening brain of the carrier's own Kamailio (kamailio/kamailio.cfg): connect to its evapi socket(s), screen every INVITE it asks about and tell it where the call goes",
    )
    .action(async () => {
      const { config, logger } = ctx();
      await runCallRole('kamailio', config, logger);
    });
}
