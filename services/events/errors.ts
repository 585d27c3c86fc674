import { SpoofguardError } from '../common/errors';

/** The job's payload can never be stored: the worker fails it at once, without retries. */
export class InvalidEventError extends SpoofguardError {}

/** The log store did not take the batch: the worker retries the jobs with backoff. */
export class StoreUnavailableError extends SpoofguardError {}
