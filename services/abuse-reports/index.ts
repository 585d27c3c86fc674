import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import { fromPackageRoot } from '../common/package-root';
import type { LogStore } from '../flagged-log';
import { configuredBrands } from '../screening/brand-data';
import { ReportDesk } from './report-desk';
import { ReportMailer } from './report-mailer';

export { ReportDesk, ReportNotSent, type Delivered, type Delivery, type Preview } from './report-desk';
export { REPORT_COLUMNS, type ReportContent } from './report-content';

/** The desk that reports flagged calls to the brands' abuse desks, with the relay of `reports.*`. */
export function openReportDesk(
  config: Config,
  store: LogStore,
  logger: Logger,
  clock?: () => number,
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
  const brands = configuredBrands(fromPackageRoot(config.screening.brandsDir));
  const desk = new ReportDesk(
    store,
    brands,
    mailer,
    { networkName: r.networkName, maxCalls: r.maxCalls },
    logger,
    clock,
  );
  return { desk, close: () => mailer.close() };
}
