import { randomBytes } from 'node:crypto';
import { InputError, SpoofguardError } from '../common/errors';
import type { Logger } from '../common/logger';
import type { CallFilter, FlaggedCallRecord, LogStore } from '../flagged-log';
import type { BrandCatalog, BrandInfo } from '../screening/brand-data';
import { type ReportContent, reportContent } from './report-content';
import type { ReportMailer } from './report-mailer';

export interface DeskSettings {
  networkName: string;
  /** Most calls in one report. */
  maxCalls: number;
}

export type Delivery = 'send' | 'eml';

export interface Preview {
  brand: string;
  to: string;
  /** Where the brand's address comes from. */
  source: string;
  /** Whether a relay is configured: else the report is downloaded as .eml. */
  canSend: boolean;
  content?: ReportContent;
}

export interface Delivered {
  reportId: string;
  to: string;
  calls: number;
  /** The relay's message id (send). */
  messageId?: string;
  /** The message (eml). */
  eml?: Buffer;
  filename?: string;
}

/**
 * Reports of flagged calls to a brand's abuse desk: the calls the analyst's filter selects of that brand that no
 * report holds yet, previewed, then sent through the relay or handed over as an .eml file. The calls are
 * marked first (so two reports at once never take the same call) and given back if the relay refuses.
 */
export class ReportDesk {
  constructor(
    private readonly store: LogStore,
    private readonly brands: BrandCatalog,
    private readonly mailer: ReportMailer,
    private readonly settings: DeskSettings,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** The brand and its abuse desk; a clear error for a brand without one. */
  private desk(brandId: string): BrandInfo & { report: NonNullable<BrandInfo['report']> } {
    const brand = this.brands.get(brandId);
    if (!brand) throw new InputError(`no brand "${brandId}" in the brand data`);
    if (!brand.report)
      throw new InputError(`brand "${brandId}" has no report address in its brand data (report.email)`);
    return brand as BrandInfo & { report: NonNullable<BrandInfo['report']> };
  }

  /** The brand's calls the filter selects that no report holds; too many is an error. */
  private async select(brandId: string, filter: CallFilter): Promise<FlaggedCallRecord[]> {
    const records: FlaggedCallRecord[] = [];
    for await (const page of this.store.pages({ ...filter, brand: brandId, reported: false }, 1000)) {
      for (const r of page) if (r.verdict === 'warn' || r.verdict === 'block') records.push(r);
      if (records.length > this.settings.maxCalls)
        throw new InputError(
          `more than ${this.settings.maxCalls} calls to report (reports.maxCalls): narrow the filter, e.g. the period`,
        );
    }
    return records;
  }

  async preview(brandId: string, filter: CallFilter): Promise<Preview> {
    const brand = this.desk(brandId);
    const records = await this.select(brandId, filter);
    return {
      brand: brandId,
      to: brand.report.email,
      source: brand.report.source,
      canSend: this.mailer.canSend,
      ...(records.length
        ? { content: reportContent(brand.name, brand.id, records, { networkName: this.settings.networkName }) }
        : {}),
    };
  }

  /**
   * Makes the report and delivers it: through the relay (`send`), or as an .eml file (`eml`). Undefined when
   * no call is left to report.
   */
  async deliver(brandId: string, filter: CallFilter, how: Delivery, actor: string): Promise<Delivered | undefined> {
    const brand = this.desk(brandId);
    if (how === 'send' && !this.mailer.canSend)
      throw new InputError('no SMTP relay configured (reports.smtpHost): download the report as .eml instead');
    const records = await this.select(brandId, filter);
    if (records.length === 0) return undefined;
    const at = this.clock();
    const reportId = `r${new Date(at).toISOString().slice(0, 10).replace(/-/g, '')}-${randomBytes(4).toString('hex')}`;
    const marked = new Set(
      await this.store.markReported(
        records.map((r) => r.callId),
        reportId,
        at,
      ),
    );
    // a report made at the same time may have taken some of them: this one holds only what it marked
    const mine = records.filter((r) => marked.has(r.callId));
    if (mine.length === 0) return undefined;
    const content = reportContent(brand.name, brand.id, mine, { networkName: this.settings.networkName });
    const message = { to: brand.report.email, content, reportId };
    let delivered: Delivered;
    try {
      delivered =
        how === 'send'
          ? { reportId, to: brand.report.email, calls: mine.length, messageId: await this.mailer.send(message) }
          : {
              reportId,
              to: brand.report.email,
              calls: mine.length,
              eml: await this.mailer.eml(message),
              filename: `${content.filename.replace(/\.csv$/, '')}.eml`,
            };
    } catch (err) {
      // not delivered: the calls are free for the next report
      await this.store.unmarkReport(reportId);
      this.logger.warn(
        { err: (err as Error).message, brand: brandId, reportId, calls: mine.length },
        'report to the brand not sent: its calls stay unreported',
      );
      throw new ReportNotSent(`the report was not sent: ${(err as Error).message}`);
    }
    await this.store.audit({
      at,
      actor,
      action: how === 'send' ? 'report-sent' : 'report-downloaded',
      target: brandId,
      count: mine.length,
      detail: `${reportId} to ${brand.report.email}`,
    });
    this.logger.info({ brand: brandId, reportId, calls: mine.length, how, actor }, 'report to the brand made');
    return delivered;
  }
}

/** The relay refused or could not be reached (the console answers 502; the CLI exits 69). */
export class ReportNotSent extends SpoofguardError {
  override readonly exitCode = 69; // EX_UNAVAILABLE
}
