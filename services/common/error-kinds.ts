import type { Logger } from './logger';

/** Errors that are the configuration's fault, not a passing outage: said at error level. */
const CONFIG_ERRORS =
  /WRONGPASS|NOAUTH|AUTH|password|permission|does not exist|ENOTFOUND|EAI_AGAIN|certificate|SSL|TLS/i;

/**
 * A listener for a client's 'error' events that says each kind of error once, clearly, instead of swallowing
 * them all (an authentication or configuration error would stay hidden behind endless retries) or logging
 * every reconnect attempt. The kind is the error's code, or its message with numbers folded.
 */
export function logErrorKindsOnce(logger: Logger, what: string): (err: Error) => void {
  const seen = new Set<string>();
  return (err: Error) => {
    const code = (err as { code?: unknown }).code;
    const kind = typeof code === 'string' && code ? code : err.message.replace(/\d+/g, '#').slice(0, 120);
    if (seen.has(kind) || seen.size >= 50) return;
    seen.add(kind);
    const level = CONFIG_ERRORS.test(`${kind} ${err.message}`) ? 'error' : 'warn';
    logger[level](
      { err: err.message, code: typeof code === 'string' ? code : undefined },
      `${what}: ${err.message} (said once per kind of error; the client keeps retrying)`,
    );
  };
}
