import { SpoofguardError } from '../common/errors';

/** The job's payload can never be stored: the worker fails it at once, without retries. */
export class InvalidEventError extends SpoofguardError {}

/** The log store did not take the batch: the worker retries the jobs with backoff. */
export class StoreUnavailableError extends SpoofguardError {}

/** The log store refused this event while it took the others of its batch: it retries alone, then fails alone. */
export class EventRefusedError extends SpoofguardError {}
