import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The SIP messages of the sipp scenarios under test/sipp/, with sipp's keywords filled in as sipp would,
 * so the tests feed the SIP front the same text a user's sipp run sends to a real deployment.
 */
export interface ScenarioValues {
  service: string;
  callId: string;
  localIp?: string;
  remoteIp?: string;
}

const SCENARIO_DIR = join(__dirname, '..', '..', 'sipp');

/** The nth `<send>` message of a scenario (0: the INVITE), with CRLF line ends and Content-Length computed. */
export function scenarioMessage(file: string, values: ScenarioValues, index = 0): string {
  const xml = readFileSync(join(SCENARIO_DIR, file), 'utf8');
  const sends = [...xml.matchAll(/<send[^>]*>\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*<\/send>/g)].map((m) => m[1] ?? '');
  const text = sends[index];
  if (text === undefined) throw new Error(`${file} has no send #${index}`);
  const local = values.localIp ?? '192.0.2.10';
  const keywords: Record<string, string> = {
    service: values.service,
    remote_ip: values.remoteIp ?? 'sbc.example.de',
    remote_port: '5060',
    local_ip: local,
    local_port: '5060',
    local_ip_type: '4',
    media_ip: local,
    media_ip_type: '4',
    media_port: '6000',
    transport: 'UDP',
    call_id: values.callId,
    branch: `z9hG4bK-${values.callId.slice(0, 12)}`,
    pid: '4711',
    call_number: '1',
    peer_tag_param: '',
    // in-dialog requests: the route set a record-routing SIP front gave (none before the dialog)
    next_url: `sip:${values.service}@${values.remoteIp ?? 'sbc.example.de'}:5060`,
    routes: '',
  };
  // sipp strips the indentation of each line and ends lines with CRLF
  const lines = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line, i, all) => i > 0 || line !== '' || all.length === 1);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  // a line that only held a keyword with nothing to fill in ([routes] outside a dialog) goes, as in sipp
  const filled = lines
    .map((line) => ({
      line,
      filled: line.replace(/\[(\w+)\]/g, (whole, key: string) => (key === 'len' ? whole : (keywords[key] ?? whole))),
    }))
    .filter(({ line, filled }) => filled !== '' || line === '')
    .map(({ filled }) => filled);
  const blank = filled.indexOf('');
  const head = blank < 0 ? filled : filled.slice(0, blank);
  const body =
    blank < 0
      ? ''
      : filled
          .slice(blank + 1)
          .map((l) => `${l}\r\n`)
          .join('');
  const headText = head.map((l) => l.replace('[len]', String(Buffer.byteLength(body)))).join('\r\n');
  return `${headText}\r\n\r\n${body}`;
}

/** A scenario's INVITE with one header changed or added (value) or removed (undefined). */
export function withHeader(raw: string, name: string, value: string | undefined): string {
  const end = raw.indexOf('\r\n\r\n');
  const lines = raw.slice(0, end).split('\r\n');
  const kept = lines.filter((l, i) => i === 0 || l.slice(0, l.indexOf(':')).toLowerCase() !== name.toLowerCase());
  if (value !== undefined) kept.splice(1, 0, `${name}: ${value}`);
  return `${kept.join('\r\n')}${raw.slice(end)}`;
}
