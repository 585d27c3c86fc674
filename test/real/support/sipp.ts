import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/redis';
import type { RealServerEnv } from './asterisk';

/**
 * sipp as the caller (a UAC calling through the carrier trunk) and as the subscriber (a UAS behind the
 * `subscribers` endpoint), with scenarios written per test. Digits are RFC 2833 events from the pcaps that
 * sip-tester ships, played into the RTP address of Asterisk's SDP.
 */
const SDP = `v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16`;

/** One <send> of a scenario: the SIP text indented into a CDATA section. */
export const send = (text: string, attrs = ''): string =>
  `  <send${attrs}><![CDATA[\n${text
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n')}\n  ]]></send>`;

export type CallerEnd =
  | { kind: 'bye'; afterMs: number }
  /** Waits for the far end's BYE; a digit (RFC 2833, from sipp's pcaps) may be sent after the answer first. */
  | { kind: 'wait-bye'; timeoutMs?: number; digit?: { digit: string; afterMs: number; pcaps: string } }
  | { kind: 'cancel'; afterMs: number }
  | { kind: 'refused'; status: number };

export interface CallerOptions {
  number: string;
  name?: string;
  called: string;
  end: CallerEnd;
  /** Extra header lines of the INVITE ("Name: value"). */
  headers?: string[];
}

/** The caller's ACK of a failure: hop by hop, the INVITE's Via and the To with the answerer's tag. */
export const failureAck = (called: string, from: string): string =>
  send(`ACK sip:${called}@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: ${from}
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0
`);

/** The caller cancels after `afterMs` of ringing: CANCEL, its 200, the INVITE's 487, and the ACK of that. */
export const cancelSteps = (called: string, from: string, afterMs: number): string[] => [
  `  <pause milliseconds="${afterMs}"/>`,
  send(`CANCEL sip:${called}@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
From: ${from}
To: <sip:${called}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0
`),
  `  <recv response="200"/>`,
  `  <recv response="487"/>`,
  failureAck(called, from),
];

export function callerScenario(o: CallerOptions): string {
  const from = `${o.name ? `"${o.name}" ` : ''}<sip:${o.number}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]`;
  const invite = send(
    `INVITE sip:${o.called}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${from}
To: <sip:${o.called}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:${o.number}@[local_ip]:[local_port]>
Max-Forwards: 70
${(o.headers ?? []).map((h) => `${h}\n`).join('')}Content-Type: application/sdp
Content-Length: [len]

${SDP}`,
    ' retrans="500"',
  );
  const ack = send(`ACK sip:${o.called}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${from}
To: <sip:${o.called}@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:${o.number}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0
`);
  const ackFailure = failureAck(o.called, from);
  const provisional = [100, 180, 183].map((c) => `  <recv response="${c}" optional="true"/>`).join('\n');
  const steps: string[] = [invite, provisional];
  const end = o.end;
  if (end.kind === 'refused') {
    steps.push(`  <recv response="${end.status}"/>`, ackFailure);
  } else if (end.kind === 'cancel') {
    // a CANCEL may only follow a provisional answer: wait for the ringing
    steps[1] = `  <recv response="100" optional="true"/>\n  <recv response="180"/>`;
    steps.push(...cancelSteps(o.called, from, end.afterMs));
  } else {
    steps.push(`  <recv response="200" rtd="true"/>`, ack);
    if (end.kind === 'bye') {
      steps.push(
        `  <pause milliseconds="${end.afterMs}"/>`,
        send(`BYE sip:${o.called}@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: ${from}
To: <sip:${o.called}@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0
`),
        `  <recv response="200"/>`,
      );
    } else {
      if (end.digit)
        steps.push(
          `  <pause milliseconds="${end.digit.afterMs}"/>`,
          `  <nop><action><exec play_pcap_audio="${end.digit.pcaps}/dtmf_2833_${end.digit.digit}.pcap"/></action></nop>`,
        );
      steps.push(`  <recv request="BYE" timeout="${end.timeoutMs ?? 60000}"/>`, okToLast());
    }
  }
  return scenario('caller', steps);
}

/** 200 OK to the request just received (a BYE, a CANCEL). */
export const okToLast = (): string =>
  send(`SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
`);

export type SubscriberAnswer =
  | {
      kind: 'answer';
      ringMs?: number;
      digit?: string;
      digitAfterMs?: number;
      then: 'wait-bye' | { byeAfterMs: number };
    }
  | { kind: 'busy' }
  | { kind: 'no-answer' };

export function subscriberScenario(answer: SubscriberAnswer, pcaps: string): string {
  // the caller's From and our To, for a BYE this side sends (its From and To are the INVITE's, swapped)
  // (sipp refuses a scenario that assigns a variable it never uses: only a subscriber that hangs up reads them)
  const byeLater = answer.kind === 'answer' && answer.then !== 'wait-bye';
  const steps = [
    byeLater
      ? `  <recv request="INVITE" crlf="true"><action>
    <ereg regexp=".*" search_in="hdr" header="From:" assign_to="invite_from"/>
    <ereg regexp="&lt;[^&gt;]*&gt;" search_in="hdr" header="To:" assign_to="invite_to"/>
    <ereg regexp="sip:[^&gt;]*" search_in="hdr" header="Contact:" assign_to="invite_contact"/>
  </action></recv>`
      : `  <recv request="INVITE" crlf="true"/>`,
  ];
  const response = (code: string, body = false): string =>
    send(`SIP/2.0 ${code}
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag01[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
${body ? `Content-Type: application/sdp\nContent-Length: [len]\n\n${SDP}` : 'Content-Length: 0\n'}`);
  if (answer.kind === 'busy') {
    steps.push(response('486 Busy Here'), `  <recv request="ACK"/>`);
    return scenario('subscriber', steps);
  }
  // a subscriber that answers at once (ringMs: 0, benchmarks) sends no 180
  if (answer.kind !== 'answer' || answer.ringMs !== 0) steps.push(response('180 Ringing'));
  if (answer.kind === 'no-answer') {
    // the 487 answers the INVITE: the CANCEL's CSeq number is the INVITE's
    steps.push(
      `  <recv request="CANCEL" timeout="120000"><action>
    <ereg regexp="[0-9]+" search_in="hdr" header="CSeq:" assign_to="cancel_cseq"/>
  </action></recv>`,
      okToLast(),
      response('487 Request Terminated').replace('[last_CSeq:]', 'CSeq: [$cancel_cseq] INVITE'),
      `  <recv request="ACK"/>`,
    );
    return scenario('subscriber', steps);
  }
  steps.push(
    ...(answer.ringMs === 0 ? [] : [`  <pause milliseconds="${answer.ringMs ?? 300}"/>`]),
    response('200 OK', true),
    `  <recv request="ACK" crlf="true"/>`,
  );
  if (answer.digit) {
    steps.push(
      `  <pause milliseconds="${answer.digitAfterMs ?? 500}"/>`,
      `  <nop><action><exec play_pcap_audio="${pcaps}/dtmf_2833_${answer.digit}.pcap"/></action></nop>`,
    );
  }
  if (answer.then === 'wait-bye') {
    steps.push(`  <recv request="BYE" timeout="120000"/>`, okToLast());
  } else {
    steps.push(
      `  <pause milliseconds="${answer.then.byeAfterMs}"/>`,
      send(`BYE [$invite_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$invite_to];tag=[pid]SIPpTag01[call_number]
To: [$invite_from]
[last_Call-ID:]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0
`),
      `  <recv response="200"/>`,
    );
  }
  return scenario('subscriber', steps);
}

export function scenario(name: string, steps: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="${name}">
${steps.join('\n')}
</scenario>
`;
}

export interface SippRun {
  port: number;
  /** Its working folder (trace files: -trace_rtt, -trace_msg). */
  dir: string;
  process: ChildProcess;
  /** Resolves with sipp's exit code: 0 when every call succeeded. */
  done: Promise<number>;
  output(): string;
  stop(): void;
}

/** Starts sipp with a scenario; as the subscriber (`-sf` UAS) it waits for calls on `port`. */
export async function startSipp(
  env: RealServerEnv,
  xml: string,
  options: {
    remote?: string;
    port?: number;
    calls?: number;
    rate?: number;
    extra?: string[];
    /** The address sipp sends from (127.0.0.1): another loopback address is another phone to Asterisk. */
    localIp?: string;
  },
): Promise<SippRun> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-sipp-'));
  const file = join(dir, 'scenario.xml');
  writeFileSync(file, xml);
  const port = options.port ?? (await freePort());
  const args = [
    '-sf',
    file,
    '-i',
    options.localIp ?? '127.0.0.1',
    '-p',
    String(port),
    '-m',
    String(options.calls ?? 1),
    '-r',
    String(options.rate ?? 10),
    '-nostdin',
    '-bg',
    ...(options.extra ?? []),
    ...(options.remote ? [options.remote] : []),
  ].filter((a) => a !== '-bg');
  const child = spawn(env.sippBin, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20000)));
  const done = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  return { port, dir, process: child, done, output: () => out, stop: () => child.kill('SIGKILL') };
}
