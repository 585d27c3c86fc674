/** An E.164 number as the log, the reports and the APIs hold it: "+" and at most 15 digits. */
export const E164 = /^\+\d{1,15}$/;

/**
 * A called number as it may reach a dial string or a URI: digits with an optional leading '+', at most 32
 * characters (an E.164 number with an international prefix fits with room to spare). The called number is the
 * caller's choice, so anything else ('&', '/', '@', ',', ';', escapes, 200 digits) is refused, never cleaned up:
 * a number cleaned into shape may be somebody else's.
 */
export const CALLED_NUMBER = /^\+?\d{1,32}$/;

/** The called number when it is one (CALLED_NUMBER), else undefined. */
export const checkedCalled = (value: string | undefined): string | undefined =>
  value !== undefined && CALLED_NUMBER.test(value) ? value : undefined;
