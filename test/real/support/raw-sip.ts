import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { headerLinesOf } from '../../../services/carrier/sip-headers';

/**
 * SIP over UDP byte by byte, for what sipp cannot send (malformed and torture messages): a caller that sends
 * one raw request and collects the answers (ACKing a failure as a UAC must), and a peer that answers every
 * INVITE with a fixed status and remembers what it got.
 */
export interface Answer {
  status: number;
  reason: string;
  text: string;
}

/** A header of a message, folded lines and compact forms (t:, i:, f:, v:) read as a peer reads them. */
const header = (text: string, name: string): string | undefined =>
  headerLinesOf(text.replace(/\r?\n/g, '\r\n')).get(name.toLowerCase())?.[0];

export class RawCaller {
  private socket!: Socket;
  readonly answers: Answer[] = [];
  port = 0;

  static async open(): Promise<RawCaller> {
    const caller = new RawCaller();
    caller.socket = createSocket('udp4');
    caller.socket.bind(0, '127.0.0.1');
    await once(caller.socket, 'listening');
    caller.port = caller.socket.address().port;
    caller.socket.on('message', (buffer) => caller.onMessage(buffer.toString('latin1')));
    return caller;
  }

  private target = { host: '127.0.0.1', port: 0 };

  /** Sends `text` ([port] is replaced by the caller's own port) to drachtio-server. */
  send(text: string, to: { host: string; port: number }): void {
    this.target = to;
    this.socket.send(Buffer.from(text.replace(/\[port\]/g, String(this.port)), 'latin1'), to.port, to.host);
  }

  private onMessage(text: string): void {
    const status = /^SIP\/2\.0 (\d{3}) ?(.*)/.exec(text);
    if (!status) return;
    const answer = { status: Number(status[1]), reason: status[2] ?? '', text };
    this.answers.push(answer);
    // a failure to an INVITE is ACKed hop by hop: same branch, the To with its tag
    if (answer.status >= 300 && /^CSeq:\s*\d+\s+INVITE/im.test(text)) {
      const cseq = header(text, 'CSeq')?.split(/\s+/)[0];
      const ack = [
        `ACK sip:ack@${this.target.host}:${this.target.port} SIP/2.0`,
        `Via: ${header(text, 'Via')}`,
        `From: ${header(text, 'From')}`,
        `To: ${header(text, 'To')}`,
        `Call-ID: ${header(text, 'Call-ID')}`,
        `CSeq: ${cseq} ACK`,
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      this.socket.send(Buffer.from(ack, 'latin1'), this.target.port, this.target.host);
    }
  }

  /** The first final answer, or undefined when none came within timeoutMs. */
  async final(timeoutMs: number): Promise<Answer | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.answers.find((a) => a.status >= 200);
      if (found) return found;
      await new Promise((r) => setTimeout(r, 20));
    }
    return undefined;
  }

  close(): void {
    this.socket.close();
  }
}

/** A next hop or IVR that answers every INVITE with `status` and keeps the INVITEs it got. */
export class RawPeer {
  private socket!: Socket;
  readonly invites: string[] = [];

  static async open(port: number, status = 486): Promise<RawPeer> {
    const peer = new RawPeer();
    peer.socket = createSocket('udp4');
    peer.socket.bind(port, '127.0.0.1');
    await once(peer.socket, 'listening');
    peer.socket.on('message', (buffer, from) => {
      const text = buffer.toString('latin1');
      if (!/^INVITE /.test(text)) return;
      peer.invites.push(text);
      const lines = text.split('\r\n');
      const vias = lines.filter((l) => /^(Via|v)\s*:/i.test(l));
      const response = [
        `SIP/2.0 ${status} ${status === 486 ? 'Busy Here' : 'Refused'}`,
        ...vias,
        `From: ${header(text, 'From')}`,
        `To: ${header(text, 'To')};tag=peer${Date.now()}`,
        `Call-ID: ${header(text, 'Call-ID')}`,
        `CSeq: ${header(text, 'CSeq')}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      peer.socket.send(Buffer.from(response, 'latin1'), from.port, from.address);
    });
    return peer;
  }

  close(): void {
    this.socket.close();
  }
}
