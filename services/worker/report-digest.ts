import { z } from 'zod';
import { openReportDesk } from '../abuse-reports';
import type { Config } from '../common/config';
import type { Logger } from '../common/logger';
import type { EventQueue } from '../events/queue-adapter';
import type { LogStore } from '../flagged-log';

/** Job names of the digests: one repeatable job per brand. */
export const DIGEST_JOB_PREFIX = 'report-digest:';

const PERIOD_MS = { daily: 86_400_000, weekly: 7 * 86_400_000 } as const;
/** Every morning at 06:00 UTC; weekly on Mondays. */
const PATTERN = { daily: '0 6 * * *', weekly: '0 6 * * 1' } as const;

const digestJob = z.strictObject({
  brand: z.string().regex(/^[a-z0-9][a-z0-9-]{0,39}$/),
  period: z.enum(['daily', 'weekly']),
});

/**
 * The digests of `reports.digest`: per brand, a repeatable BullMQ job (daily or weekly) that reports the brand's
 * flagged calls of the period that no report holds yet, through the SMTP relay. Brands set to off, or no longer
 * listed, lose their job.
 */
export class ReportDigest {
  /** Opened by the first digest run: a worker without digests reads no brand files and makes no mailer. */
  private reports?: ReturnType<typeof openReportDesk>;

  constructor(
    private readonly config: Config,
    private readonly store: LogStore,
    private readonly queue: EventQueue,
    private readonly logger: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  async schedule(): Promise<void> {
    const wanted = Object.entries(this.config.reports.digest);
    for (const [brand, period] of wanted) {
      const id = `${DIGEST_JOB_PREFIX}${brand}`;
      if (period === 'off') await this.queue.unschedule(id);
      else await this.queue.schedule(id, { pattern: PATTERN[period] }, { brand, period });
    }
    for (const s of await this.queue.schedules())
      if (s.id.startsWith(DIGEST_JOB_PREFIX) && !(s.id.slice(DIGEST_JOB_PREFIX.length) in this.config.reports.digest))
        await this.queue.unschedule(s.id);
  }

  /** One digest job: the brand's unreported calls of the period, sent. */
  async run(data: unknown): Promise<void> {
    const job = digestJob.parse(data);
    if (!this.config.reports.smtpHost) {
      this.logger.warn({ brand: job.brand }, 'report digest skipped: no SMTP relay configured (reports.smtpHost)');
      return;
    }
    const now = this.clock();
    this.reports ??= openReportDesk(this.config, this.store, this.logger, { clock: this.clock });
    const delivered = await this.reports.desk.deliver(
      job.brand,
      { since: now - PERIOD_MS[job.period], until: now },
      'send',
      `digest-${job.period}`,
    );
    this.logger.info(
      { brand: job.brand, period: job.period, calls: delivered?.calls ?? 0, reportId: delivered?.reportId },
      delivered ? 'report digest sent' : 'report digest: no unreported calls in the period',
    );
  }

  close(): void {
    this.reports?.close();
  }
}
