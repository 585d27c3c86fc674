/**
 * sipp scenarios for the SIP front's real suite: the next hop and the warning IVR as UASes, and callers that
 * do what the project's own test/sipp files do not (re-INVITE, CANCEL, a BYE from the far side, late offers).
 * In-dialog requests follow the route set (rrs="true", [routes], [next_url]), as a real peer behind a
 * record-routing proxy does.
 */
import { cancelSteps, failureAck, okToLast, scenario, send } from './sipp';

const SDP = `v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0
a=rtpmap:0 PCMU/8000`;

export interface UasOptions {
  /** Final answer to the INVITE (200 by default). */
  status?: number;
  /** Rings (180) this long before the final answer; with 'forever' it waits for the CANCEL. */
  ringMs?: number | 'forever';
  /** After the ACK: wait for the caller's BYE (and any re-INVITE before it), or send the BYE itself. */
  then?: 'wait-bye' | 'wait-reinvite-then-bye' | { byeAfterMs: number };
  /** Extra header lines of the 200 to the INVITE. */
  answerHeaders?: string[];
}

/** The next hop or the IVR: answers one INVITE per call as told. */
export function uasScenario(o: UasOptions = {}): string {
  const steps = [
    `  <recv request="INVITE" crlf="true" rrs="true"><action>
    <ereg regexp=".*" search_in="hdr" header="From:" assign_to="invite_from"/>
    <ereg regexp=".*" search_in="hdr" header="To:" assign_to="invite_to"/>
    <ereg regexp="Via:[^[:cntrl:]]*([[:cntrl:]]+Via:[^[:cntrl:]]*)*" search_in="msg" assign_to="invite_via,unused_via"/>
  </action></recv>`,
  ];
  const extra = (o.answerHeaders ?? []).map((h) => `${h}\n`).join('');
  const response = (code: string, body = false): string =>
    send(`SIP/2.0 ${code}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
${body ? extra : ''}${body ? `Content-Type: application/sdp\nContent-Length: [len]\n\n${SDP}` : 'Content-Length: 0\n'}`);
  const status = o.status ?? 200;
  if (o.ringMs !== 0) steps.push(response('180 Ringing'));
  if (o.ringMs === 'forever') {
    steps.push(
      `  <recv request="CANCEL" timeout="60000"><action>
    <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="cancel_cseq"/>
  </action></recv>`,
      okToLast(),
      // the 487 answers the INVITE: its Vias (every hop's), not the CANCEL's
      response('487 Request Terminated')
        .replace('[last_CSeq:]', 'CSeq: [$cancel_cseq] INVITE')
        .replace('[last_Via:]', '[$invite_via]'),
      `  <recv request="ACK"/>`,
      noUnused(['invite_from', 'invite_to', 'invite_via', 'unused_via']),
    );
    return scenario('uas', steps);
  }
  if (typeof o.ringMs === 'number' && o.ringMs > 0) steps.push(`  <pause milliseconds="${o.ringMs}"/>`);
  if (status !== 200) {
    steps.push(
      response(`${status} Refused`),
      `  <recv request="ACK"/>`,
      noUnused(['invite_from', 'invite_to', 'invite_via', 'unused_via']),
    );
    return scenario('uas', steps);
  }
  steps.push(response('200 OK', true), `  <recv request="ACK" crlf="true"/>`);
  const then = o.then ?? 'wait-bye';
  if (then === 'wait-reinvite-then-bye') {
    steps.push(`  <recv request="INVITE"/>`, okWithSdp(), `  <recv request="ACK"/>`);
  }
  if (then === 'wait-bye' || then === 'wait-reinvite-then-bye') {
    steps.push(
      `  <recv request="BYE" timeout="60000"/>`,
      okToLast(),
      noUnused(['invite_from', 'invite_to', 'invite_via', 'unused_via']),
    );
  } else {
    steps.push(
      `  <pause milliseconds="${then.byeAfterMs}"/>`,
      send(`BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$invite_to];tag=[pid]SIPpTag01[call_number]
To: [$invite_from]
[last_Call-ID:]
CSeq: 2 BYE
[routes]
Max-Forwards: 70
Content-Length: 0
`),
      `  <recv response="200"/>`,
      noUnused(['invite_via', 'unused_via']),
    );
  }
  return scenario('uas', steps);
}

const okWithSdp = (): string =>
  send(`SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

${SDP}`);

/** sipp refuses a scenario that assigns a variable it never reads. */
const noUnused = (names: string[]): string =>
  `  <nop><action>${names.map((n) => `<log message="[$${n}]"/>`).join('')}</action></nop>`;

export interface UacOptions {
  number: string;
  name?: string;
  called: string;
  /** Extra header lines for the INVITE. */
  headers?: string[];
  /** No SDP in the INVITE: the offer comes in the 200, the answer in the ACK. */
  lateOffer?: boolean;
  /** Times INVITE → 200 (sipp's response time, -trace_rtt): benchmarks. */
  measure?: boolean;
  end:
    | { kind: 'bye'; afterMs: number; reinvite?: boolean }
    | { kind: 'wait-bye' }
    /** One re-INVITE (a session refresh with `headers`) after `afterMs`, then wait for the far side's BYE. */
    | { kind: 'refresh-then-wait-bye'; afterMs: number; headers: string[]; byeTimeoutMs: number }
    | { kind: 'cancel'; afterMs: number }
    | { kind: 'refused'; status: number };
}

/** A caller that follows the route set of the dialog it gets. */
export function uacScenario(o: UacOptions): string {
  const from = `${o.name ? `"${o.name}" ` : ''}<sip:${o.number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]`;
  const body = o.lateOffer ? 'Content-Length: 0\n' : `Content-Type: application/sdp\nContent-Length: [len]\n\n${SDP}`;
  const steps = [
    send(
      `INVITE sip:${o.called}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${from}
To: <sip:${o.called}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:${o.number}@[local_ip]:[local_port]>
Max-Forwards: 70
${(o.headers ?? []).map((h) => `${h}\n`).join('')}${body}`,
      ' retrans="500"',
    ),
  ];
  const ackFailure = failureAck(o.called, from);
  const end = o.end;
  if (end.kind === 'refused') {
    steps.push(
      `  <recv response="100" optional="true"/>`,
      `  <recv response="180" optional="true"/>`,
      `  <recv response="${end.status}"/>`,
      ackFailure,
    );
    return scenario('uac', steps);
  }
  if (end.kind === 'cancel') {
    steps.push(
      `  <recv response="100" optional="true"/>`,
      `  <recv response="180"/>`,
      ...cancelSteps(o.called, from, end.afterMs),
    );
    return scenario('uac', steps);
  }
  const inDialog = (method: string, cseq: number, withBody = false): string =>
    send(`${method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${from}
To: <sip:${o.called}@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: ${cseq} ${method}
[routes]
Contact: <sip:${o.number}@[local_ip]:[local_port]>
Max-Forwards: 70
${withBody ? `Content-Type: application/sdp\nContent-Length: [len]\n\n${SDP}` : 'Content-Length: 0\n'}`);
  steps.push(
    `  <recv response="100" optional="true"/>`,
    `  <recv response="180" optional="true"/>`,
    `  <recv response="200" rrs="true"${o.measure ? ' rtd="true"' : ''}/>`,
    // the ACK of a 2xx is a request of its own: it follows the route set; with a late offer it carries the answer
    inDialog('ACK', 1, o.lateOffer),
  );
  if (end.kind === 'bye') {
    if (end.reinvite) {
      steps.push(
        `  <pause milliseconds="300"/>`,
        inDialog('INVITE', 2, true),
        `  <recv response="100" optional="true"/>`,
        `  <recv response="200"/>`,
        inDialog('ACK', 2),
      );
    }
    steps.push(
      `  <pause milliseconds="${end.afterMs}"/>`,
      inDialog('BYE', 3).replace('<send>', '<send retrans="500">'),
      `  <recv response="200"/>`,
    );
  } else if (end.kind === 'refresh-then-wait-bye') {
    steps.push(
      `  <pause milliseconds="${end.afterMs}"/>`,
      inDialog('INVITE', 2, true).replace(
        'Max-Forwards: 70\n',
        `Max-Forwards: 70\n${end.headers.map((h) => `${h}\n`).join('')}`,
      ),
      `  <recv response="100" optional="true"/>`,
      `  <recv response="200"/>`,
      inDialog('ACK', 2),
      `  <recv request="BYE" timeout="${end.byeTimeoutMs}"/>`,
      okToLast(),
    );
  } else {
    steps.push(`  <recv request="BYE" timeout="60000"/>`, okToLast());
  }
  return scenario('uac', steps);
}
