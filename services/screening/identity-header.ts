/**
 * Reads the value of a From, P-Asserted-Identity or Remote-Party-ID header (RFC 3261 name-addr / addr-spec,
 * RFC 3966 tel URIs), or a bare number, into a display name and the URI's user part. Never throws: a value
 * it cannot read comes back with `error`.
 */
export interface IdentityValue {
  displayName?: string;
  scheme?: 'sip' | 'sips' | 'tel';
  /** The user part of a sip/sips URI, or the number of a tel URI, percent-decoded, without user parameters. */
  user?: string;
  host?: string;
  /** URI parameters (lower-case names), e.g. user=phone, phone-context, verstat. */
  params: Record<string, string>;
  /** A value that was neither a name-addr nor a URI: the text itself. */
  plain?: string;
  error?: string;
}

function readQuotedString(text: string): { value: string; rest: string } | undefined {
  let value = '';
  for (let i = 1; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\\' && i + 1 < text.length) {
      value += text[++i];
    } else if (ch === '"') {
      return { value, rest: text.slice(i + 1) };
    } else {
      value += ch;
    }
  }
  return undefined;
}

function percentDecode(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Parameters are signals (verstat, privacy, phone-context): a padded list is read only this far. */
const MAX_PARAMS = 32;
const MAX_PARAM_VALUE = 256;

function readParams(text: string, into: Record<string, string>): void {
  let count = Object.keys(into).length;
  for (const part of text.split(';', MAX_PARAMS + 1)) {
    if (count >= MAX_PARAMS) return;
    const trimmed = part.trim();
    if (!trimmed) continue;
    const eq = trimmed.indexOf('=');
    const name = (eq < 0 ? trimmed : trimmed.slice(0, eq)).trim().toLowerCase();
    const value =
      eq < 0
        ? ''
        : trimmed
            .slice(eq + 1)
            .trim()
            .replace(/^"(.*)"$/, '$1');
    if (name && !(name in into)) {
      into[name.slice(0, 64)] = percentDecode(value.slice(0, MAX_PARAM_VALUE));
      count++;
    }
  }
}

function readUri(uri: string, out: IdentityValue): void {
  const colon = uri.indexOf(':');
  const scheme = uri.slice(0, colon).toLowerCase();
  if (colon < 0 || (scheme !== 'sip' && scheme !== 'sips' && scheme !== 'tel')) {
    out.error = 'not a sip, sips or tel URI';
    return;
  }
  out.scheme = scheme;
  let rest = uri.slice(colon + 1);
  const headersAt = rest.indexOf('?');
  if (headersAt >= 0) rest = rest.slice(0, headersAt);
  if (scheme === 'tel') {
    const semi = rest.indexOf(';');
    out.user = percentDecode(semi < 0 ? rest : rest.slice(0, semi)).trim();
    if (semi >= 0) readParams(rest.slice(semi + 1), out.params);
    return;
  }
  const at = rest.lastIndexOf('@');
  const userinfo = at < 0 ? '' : rest.slice(0, at);
  const hostAndParams = at < 0 ? rest : rest.slice(at + 1);
  const semi = hostAndParams.indexOf(';');
  out.host = (semi < 0 ? hostAndParams : hostAndParams.slice(0, semi)).trim().toLowerCase();
  if (semi >= 0) readParams(hostAndParams.slice(semi + 1), out.params);
  if (userinfo) {
    // user part parameters (";isub=", ";npdi", ";rn=") and a password (":secret") are not part of the number
    const user = userinfo.split(':')[0];
    const userSemi = user.indexOf(';');
    if (userSemi >= 0) readParams(user.slice(userSemi + 1), out.params);
    out.user = percentDecode(userSemi < 0 ? user : user.slice(0, userSemi)).trim();
  }
}

/**
 * The values of a header that may carry several (P-Asserted-Identity: "A" <sip:…>, <tel:…>), split at commas
 * outside quotes and angle brackets; at most `max`, the rest are left unread.
 */
export function splitValues(header: string, max: number): string[] {
  const values: string[] = [];
  let quoted = false;
  let angle = false;
  let start = 0;
  for (let i = 0; i < header.length && values.length < max; i++) {
    const ch = header[i];
    if (quoted && ch === '\\') i++;
    else if (ch === '"' && !angle) quoted = !quoted;
    else if (!quoted && ch === '<') angle = true;
    else if (!quoted && ch === '>') angle = false;
    else if (!quoted && !angle && ch === ',') {
      if (header.slice(start, i).trim()) values.push(header.slice(start, i).trim());
      start = i + 1;
    }
  }
  if (values.length < max && header.slice(start).trim()) values.push(header.slice(start).trim());
  return values;
}

const SALVAGE_URI = /<?\s*((?:sips?|tel):[^\s<>",]+)/gi;
const SALVAGE_NUMBER = /(?:^|[^\d])(\+?\d[\d\s\-.()/]{1,30}\d)/;

/**
 * A value that is not well-formed (an unterminated quote or bracket, a stray character) still names a number
 * somewhere: bad form must not take a caller out of screening. The URIs in it, or else the first number, are
 * read with `error` kept, so the rules can see both. Returns one value per URI found (at most `max`).
 */
export function salvageIdentityValues(input: string, error: string, max = 4): IdentityValue[] {
  const found: IdentityValue[] = [];
  const firstUri = input.search(/(?:sips?|tel):/i);
  const before = (firstUri < 0 ? input : input.slice(0, firstUri)).replace(/[<"]/g, ' ').trim();
  const displayName = before || undefined;
  for (const m of input.matchAll(SALVAGE_URI)) {
    if (found.length >= max) break;
    const out: IdentityValue = { params: {}, ...(displayName ? { displayName } : {}) };
    readUri(m[1], out);
    if (out.user) found.push({ ...out, error });
  }
  if (found.length) return found;
  const number = SALVAGE_NUMBER.exec(input);
  if (number) return [{ params: {}, plain: number[1], error, ...(displayName ? { displayName } : {}) }];
  return [{ params: {}, error, ...(displayName ? { displayName } : {}) }];
}

export function parseIdentityValue(input: string): IdentityValue {
  const out: IdentityValue = { params: {} };
  let text = input.trim();
  // Several values may be folded into one header (P-Asserted-Identity: <sip:…>, <tel:…>): the first counts
  // here; splitValues reads them all.
  if (text.startsWith('"')) {
    const quoted = readQuotedString(text);
    if (!quoted) return { ...out, error: 'unterminated quoted display name' };
    out.displayName = quoted.value.trim();
    text = quoted.rest.trim();
    if (!text.startsWith('<')) return { ...out, error: 'display name without <URI>' };
  }
  const lt = text.indexOf('<');
  if (lt >= 0) {
    const gt = text.indexOf('>', lt);
    if (gt < 0) return { ...out, error: 'unterminated <URI>' };
    if (out.displayName === undefined && lt > 0) out.displayName = text.slice(0, lt).trim();
    readUri(text.slice(lt + 1, gt).trim(), out);
    // header parameters after '>' (;tag=, ;party=calling, ;privacy=full, ;screen=yes)
    const after = text.slice(gt + 1);
    const semi = after.indexOf(';');
    if (semi >= 0) readParams(after.slice(semi + 1).split(',')[0], out.params);
    return out;
  }
  if (/^(sips?|tel):/i.test(text)) {
    readUri(text.split(',')[0].trim(), out);
    return out;
  }
  out.plain = text;
  return out;
}
