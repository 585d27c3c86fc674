/**
 * SIP text as drachtio-server received it, made readable the way drachtio-server (sofia-sip) itself read it.
 * drachtio-server accepts header lines that end in a bare LF and request lines with runs of spaces (RFC 3261
 * §7.5 and §25.1 ask for tolerance), then hands the app the text as it came; drachtio-srf's parser splits on
 * CRLF and one space only, so it either throws (the INVITE then waits forever for an answer) or reads no
 * headers at all (the call would be screened as an empty caller). Only the header section is touched: the
 * body's bytes are what Content-Length counts.
 */

/** The header section's end: the first empty line, whichever line ends it uses. */
const HEADER_END = /\r?\n\r?\n/;
const BARE_LF = /(?<!\r)\n/g;
const REQUEST_LINE = /^([!-~]+)[ \t]+(\S+)[ \t]+(SIP\/\d+\.\d+)[ \t]*$/i;

/** Cheap test first: a well-formed message (every carrier's INVITE) is returned as it is. */
export function readableSip(raw: string): string {
  // RFC 3261 §7.5: empty lines before the start line are ignored
  const text = raw.startsWith('\r') || raw.startsWith('\n') ? raw.replace(/^(?:\r?\n)+/, '') : raw;
  const end = HEADER_END.exec(text);
  const headEnd = end ? end.index : text.length;
  const firstLineEnd = text.indexOf('\n');
  const firstLine = text.slice(0, firstLineEnd < 0 ? headEnd : Math.min(firstLineEnd, headEnd)).replace(/\r$/, '');
  const head = text.slice(0, headEnd);
  const wellFormed = (!end || end[0] === '\r\n\r\n') && !BARE_LF.test(head) && !/^\s|\s\s|\t/.test(firstLine);
  BARE_LF.lastIndex = 0;
  if (wellFormed) return text;
  const request = REQUEST_LINE.exec(firstLine.trim());
  const line = request ? `${request[1]} ${request[2]} ${request[3]}` : firstLine;
  const rest = head.slice(firstLine.length).replace(/^\r?\n/, '');
  const headers = rest.replace(BARE_LF, '\r\n');
  const body = end ? text.slice(headEnd + end[0].length) : '';
  return `${line}\r\n${headers}${headers ? '\r\n' : ''}\r\n${body}`;
}

/** The method of a request's first line (undefined for a response or garbage), for answering what cannot be read. */
export function requestMethod(text: string): string | undefined {
  const method = /^\s*([A-Za-z]{1,20})[ \t]/.exec(text)?.[1];
  return method && method.toUpperCase() !== 'SIP' ? method.toUpperCase() : undefined;
}
