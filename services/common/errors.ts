/** Base of spoofguard's own errors: `exitCode` is what the CLI exits with when one reaches it. */
export class SpoofguardError extends Error {
  readonly exitCode: number = 1;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The configuration is invalid: start-up stops with the message, which names the key. */
export class ConfigError extends SpoofguardError {
  override readonly exitCode = 78; // EX_CONFIG
}

/** Input from outside (a file, a request, a header) failed its schema. */
export class InputError extends SpoofguardError {
  override readonly exitCode = 65; // EX_DATAERR
}

/** A role of the process could not start: every role already started is stopped again. */
export class StartupError extends SpoofguardError {
  override readonly exitCode = 69; // EX_UNAVAILABLE
}
