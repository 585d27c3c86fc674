/**
 * Whether the store refused a write for what the event holds, so that no retry can succeed: PostgreSQL's
 * data exceptions (SQLSTATE class 22: a NUL in text, a value out of range) and integrity violations (class
 * 23: a check, a constraint), and SQLite's constraint, mismatch and too-big errors. Anything else (a lost
 * connection, a timeout, a full disk) may pass.
 */
export function permanentRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string') return false;
  return /^2[23][0-9A-Z]{3}$/.test(code) || /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/.test(code);
}
