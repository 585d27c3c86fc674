import type { Logger } from './logger';

let unhandled = 0;
let installed: ((reason: unknown) => void) | undefined;

/** Unhandled promise rejections seen by this process (spoofguard_unhandled_rejections_total). */
export const unhandledRejections = (): number => unhandled;

const describe = (reason: unknown): string =>
  reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason).slice(0, 300);

/**
 * The process's policy for a promise rejection nobody handled: on Node 20 it ends the process, with every call
 * in hand. Each fire-and-forget promise of the call path has its own catch; one that slips through is a bug,
 * logged with what went wrong and counted, and the process keeps serving. Installed once per process.
 */
export function installProcessPolicy(logger: Logger): void {
  if (installed) return;
  installed = (reason: unknown) => {
    unhandled++;
    logger.error(
      { err: describe(reason), stack: reason instanceof Error ? reason.stack : undefined },
      'unhandled promise rejection (a bug): logged, counted in spoofguard_unhandled_rejections_total, and the process keeps serving',
    );
  };
  process.on('unhandledRejection', installed);
}

/**
 * Runs work nobody waits for (a timer's action, an event handler) with its own catch: what went wrong is logged
 * as `what failed`, and never becomes an unhandled rejection.
 */
export function background(work: Promise<unknown>, logger: Logger, what: string): void {
  work.catch((err: unknown) => logger.error({ err: describe(err) }, `${what} failed`));
}
