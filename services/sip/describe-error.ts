/** What went wrong, even for errors drachtio-srf makes without a message (a SIP status, a bare object). */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const status = (err as { status?: unknown }).status;
    const text = err.message || err.name;
    return typeof status === 'number' ? `${text} (SIP ${status})` : text;
  }
  if (typeof err === 'object' && err !== null) return JSON.stringify(err).slice(0, 300);
  return String(err);
}
