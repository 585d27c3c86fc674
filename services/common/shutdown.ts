import type { Logger } from './logger';

export type ShutdownStep = () => Promise<void>;

/**
 * One SIGTERM/SIGINT handler for the process: runs the steps in order (the last registered first, so what
 * was started last stops first), then exits. A second signal exits at once.
 */
export class Shutdown {
  private readonly steps: { name: string; run: ShutdownStep }[] = [];
  private stopping?: Promise<void>;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly logger: Logger) {}

  add(name: string, run: ShutdownStep): void {
    this.steps.unshift({ name, run });
  }

  /** Installs the signal handlers; resolves when shutdown finished. */
  listen(): Promise<void> {
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.stopping) {
        this.logger.warn({ signal }, 'second signal: exiting now');
        process.exit(130);
      }
      this.logger.info({ signal }, 'shutting down');
      void this.stop();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const step of this.steps) {
        try {
          await step.run();
          this.logger.info({ step: step.name }, 'stopped');
        } catch (err) {
          this.logger.error({ err, step: step.name }, 'failed to stop cleanly');
        }
      }
      for (const resolve of this.waiters) resolve();
    })();
    return this.stopping;
  }
}
