import { readFileSync } from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type { ReportContent } from './report-content';

/** The SMTP relay (reports.*); no host: reports are downloaded as .eml files instead. */
export interface MailerSettings {
  from: string;
  smtpHost: string;
  smtpPort: number;
  smtpStartTls: boolean;
  smtpTls: boolean;
  smtpUser: string;
  smtpPassword: string;
  /** PEM of a CA trusted for the relay beside the public ones. */
  smtpCaFile: string;
  /** Seconds the relay may take (connection, greeting, each command). */
  timeoutSec?: number;
}

export interface ReportMessage {
  to: string;
  content: ReportContent;
  reportId: string;
}

/**
 * The nodemailer adapter (the only nodemailer import): a report as a MIME message with the CSV attached, sent
 * through the configured relay or written out as an .eml file.
 */
export class ReportMailer {
  private readonly relay?: Transporter;
  private readonly writer: Transporter;

  constructor(private readonly settings: MailerSettings) {
    const timeout = (settings.timeoutSec ?? 30) * 1000;
    if (settings.smtpHost)
      this.relay = nodemailer.createTransport({
        host: settings.smtpHost,
        port: settings.smtpPort,
        secure: settings.smtpTls,
        requireTLS: settings.smtpStartTls && !settings.smtpTls,
        ignoreTLS: !settings.smtpStartTls && !settings.smtpTls,
        ...(settings.smtpUser ? { auth: { user: settings.smtpUser, pass: settings.smtpPassword } } : {}),
        ...(settings.smtpCaFile ? { tls: { ca: readFileSync(settings.smtpCaFile, 'utf8') } } : {}),
        connectionTimeout: timeout,
        greetingTimeout: timeout,
        socketTimeout: timeout,
      });
    this.writer = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'windows' });
  }

  /** Whether a relay is configured (else reports are downloaded). */
  get canSend(): boolean {
    return this.relay !== undefined;
  }

  private mail(message: ReportMessage) {
    return {
      from: this.settings.from,
      to: message.to,
      subject: message.content.subject,
      text: message.content.text,
      headers: { 'X-Spoofguard-Report': message.reportId },
      attachments: [
        { filename: message.content.filename, content: message.content.csv, contentType: 'text/csv; charset=utf-8' },
      ],
    };
  }

  /** Sends through the relay; resolves with the relay's message id. Throws what the relay said. */
  async send(message: ReportMessage): Promise<string> {
    if (!this.relay) throw new Error('no SMTP relay configured (reports.smtpHost)');
    const info = (await this.relay.sendMail(this.mail(message))) as { messageId?: string };
    return info.messageId ?? '';
  }

  /** The message as an .eml file (RFC 5322, CRLF), to send by hand. */
  async eml(message: ReportMessage): Promise<Buffer> {
    const info = (await this.writer.sendMail(this.mail(message))) as { message: Buffer };
    return info.message;
  }

  close(): void {
    this.relay?.close();
  }
}
