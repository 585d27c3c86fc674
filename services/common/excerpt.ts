/** A short printable excerpt of hostile text for a log line: no control characters, at most `max` characters. */
export function excerpt(text: string, max = 120): string {
  const firstLine = text.split(/\r?\n/, 1)[0] ?? '';
  const clean = firstLine.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
