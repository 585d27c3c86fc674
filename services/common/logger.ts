import pino, { type Logger } from 'pino';

export type { Level, Logger } from 'pino';

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

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const ignore = (): void => undefined;

/**
 * A child logger per call, so every line of the call carries its id. It is made on the first line that is
 * actually written: making a pino child for every call, even one that logs nothing at the configured level,
 * showed up as garbage-collection pauses in the SIP front's tail latency.
 */
export function callLogger(logger: Logger, callId: string, extra: Record<string, unknown> = {}): Logger {
  let child: Logger | undefined;
  const real = (): Logger => (child ??= logger.child({ callId, ...extra }));
  return new Proxy(logger, {
    get(_target, property) {
      if (typeof property === 'string' && LEVELS.has(property)) {
        if (!logger.isLevelEnabled(property)) return ignore;
        const log = real();
        return (log[property as keyof Logger] as (...args: unknown[]) => void).bind(log);
      }
      const value: unknown = Reflect.get(real(), property);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(real()) : value;
    },
  });
}
