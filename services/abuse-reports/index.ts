import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { fromPackageRoot } from '../common/package-root';
import type { LogStore } from '../flagged-log';
import { brandCatalog, type BrandFile, loadBrandFiles } from '../screening/brand-data';
import { ReportDesk } from './report-desk';
import { ReportMailer } from './report-mailer';

export { ReportDesk, ReportNotSent, type Delivered, type Delivery, type Preview } from './report-desk';
export { REPORT_COLUMNS, type ReportContent } from './report-content';

/** The desk that reports flagged calls to the brands' abuse desks, with the relay of `reports.*`. */
export function openReportDesk(
  config: Config,
  store: LogStore,
  logger: Logger,
  options: { clock?: () => number; brands?: readonly BrandFile[] } = {},
): { desk: ReportDesk; close(): void } {
  const r = config.reports;
  const mailer = new ReportMailer({
    from: r.from,
    smtpHost: r.smtpHost,
    smtpPort: r.smtpPort,
    smtpStartTls: r.smtpStartTls,
    smtpTls: r.smtpTls,
    smtpUser: r.smtpUser,
    smtpPassword: r.smtpPassword,
    smtpCaFile: r.smtpCaFile ? fromPackageRoot(r.smtpCaFile) : '',
  });
  // the brand files as a caller read them already (the console's list admin), else read here
  const brands = brandCatalog(options.brands ?? loadBrandFiles(fromPackageRoot(config.screening.brandsDir)));
  const desk = new ReportDesk(
    store,
    brands,
    mailer,
    { networkName: r.networkName, maxCalls: r.maxCalls },
    logger,
    options.clock,
  );
  return { desk, close: () => mailer.close() };
}
