import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level: string;
  name?: string;
  /** Where log lines go; defaults to stderr so that CLI output on stdout stays machine-readable. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  return pino(
    { level: options.level, name: options.name ?? 'spoofguard', base: { pid: process.pid } },
    options.destination ?? pino.destination({ fd: 2, sync: true }),
  );
}

/** A child logger per call, so every line of the call carries its id. */
export const callLogger = (logger: Logger, callId: string, extra: Record<string, unknown> = {}): Logger =>
  logger.child({ callId, ...extra });
