import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openReportDesk } from '../../abuse-reports';
import type { Config } from '../../common/config';
import { createLogger } from '../../common/logger';
import { openLogStore } from '../../flagged-log';
import { filterFrom, withFilters } from '../call-filters';

/**
 * `spoofguard report --brand amazon --since …`: the brand's flagged calls that no report holds yet, reported to
 * its abuse desk through the SMTP relay (reports.*), or written to an .eml file (--eml), or only shown
 * (--preview). Each call is reported once.
 */
export function reportCommand(program: Command, config: () => Config, out: (text: string) => void): void {
  withFilters(
    program
      .command('report')
      .description("report flagged calls to the brand's abuse desk (e.g. Amazon: stop-spoofing@amazon.com)"),
    { brandRequired: true },
  )
    .option('--preview', 'print the report (subject, text, CSV) and send nothing')
    .option('--eml <file>', 'write the report to this .eml file instead of sending it (no relay needed)')
    .option('--actor <name>', 'who makes the report, for the audit trail', process.env.USER ?? 'cli')
    .action(async (o: Record<string, string | undefined>) => {
      const cfg = config();
      const filter = filterFrom(o, cfg);
      const brand = o.brand as string;
      const store = await openLogStore(cfg);
      const reports = openReportDesk(cfg, store, createLogger({ level: cfg.log.level }));
      try {
        if (o.preview) {
          const preview = await reports.desk.preview(brand, filter);
          if (!preview.content) {
            out(`no unreported ${brand} calls match\n`);
            return;
          }
          const c = preview.content;
          out(`To: ${preview.to}\nSubject: ${c.subject}\n\n${c.text}\n\n--- ${c.filename}\n${c.csv}`);
          return;
        }
        const delivered = await reports.desk.deliver(brand, filter, o.eml ? 'eml' : 'send', o.actor ?? 'cli');
        if (!delivered) {
          out(`no unreported ${brand} calls match: nothing sent\n`);
          return;
        }
        if (o.eml && delivered.eml) {
          writeFileSync(o.eml, delivered.eml);
          out(
            `report ${delivered.reportId}: ${delivered.calls} calls written to ${o.eml} (send it to ${delivered.to})\n`,
          );
        } else out(`report ${delivered.reportId}: ${delivered.calls} calls sent to ${delivered.to}\n`);
      } finally {
        reports.close();
        await store.close();
      }
    });
}
