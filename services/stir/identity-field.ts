/**
 * One Identity header field (RFC 8224 §4.1): the PASSporT in full form (header.payload.signature, RFC 8225
 * §7), then parameters: `info` (the certificate's address in angle brackets), `alg` and `ppt`. Several fields
 * on one request arrive as several values; a value may also carry several fields separated by commas.
 */
export interface IdentityField {
  token: string;
  info?: string;
  alg?: string;
  ppt?: string;
}

/** Why a field could not be read; the caller turns it into a `format` failure. */
export class IdentityFormatError extends Error {}

/** An Identity header's whole value is bounded: a PASSporT with its parameters is well under 2 KB. */
const MAX_FIELD = 8192;
const MAX_FIELDS = 8;
const TOKEN_PART = /^[A-Za-z0-9_-]+$/;

/** Splits at `sep` outside angle brackets and quotes (an `info` URI may hold a comma or a semicolon). */
function splitOutside(value: string, sep: ',' | ';'): string[] {
  const fields: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') depth++;
    else if (!quoted && c === '>') depth = Math.max(0, depth - 1);
    else if (!quoted && depth === 0 && c === sep) {
      fields.push(value.slice(start, i));
      start = i + 1;
    }
  }
  fields.push(value.slice(start));
  return fields.map((f) => f.trim());
}

function parseField(text: string): IdentityField {
  if (text.length > MAX_FIELD) throw new IdentityFormatError(`an Identity field of ${text.length} characters`);
  const [token = '', ...params] = splitOutside(text, ';');
  const parts = token.trim().split('.');
  if (parts.length !== 3) throw new IdentityFormatError(`a PASSporT needs three parts, this has ${parts.length}`);
  if (parts[1] === '')
    throw new IdentityFormatError('compact form (no payload) is not accepted: SHAKEN uses the full form');
  if (!parts.every((p) => TOKEN_PART.test(p))) throw new IdentityFormatError('a PASSporT part is not base64url');
  const field: IdentityField = { token: parts.join('.') };
  for (const param of params) {
    const eq = param.indexOf('=');
    const name = (eq < 0 ? param : param.slice(0, eq)).trim().toLowerCase();
    const raw = eq < 0 ? '' : param.slice(eq + 1).trim();
    if (name === 'info') {
      const m = /^<([^<>\s]*)>$/.exec(raw);
      if (!m) throw new IdentityFormatError('info is not a URI in angle brackets');
      field.info = m[1];
    } else if (name === 'alg' || name === 'ppt') field[name] = raw.replace(/^"(.*)"$/, '$1');
  }
  return field;
}

/** Every Identity field of a request, from its header values as they came. */
export function parseIdentityHeaders(values: readonly string[]): IdentityField[] {
  const fields = values.flatMap((v) => splitOutside(v, ',')).filter((f) => f.length > 0);
  if (fields.length > MAX_FIELDS) throw new IdentityFormatError(`${fields.length} Identity fields`);
  return fields.map(parseField);
}
