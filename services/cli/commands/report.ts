import { writeFileSync } from 'node:fs';
import { Command } from 'commander';
import { z } from 'zod';
import { openReportDesk } from '../../abuse-reports';
import type { Config } from '../../common/config';
import { InputError } from '../../common/errors';
import { createLogger } from '../../common/logger';
import { calledNumberPolicy, type CallFilter, openLogStore } from '../../flagged-log';
import { callFilterSchema } from '../../flagged-log/calls-format';

/** The report's filters, checked by the same schema as the console's and `calls list`. */
function filterFrom(o: Record<string, string | undefined>, config: Config): CallFilter {
  const parsed = callFilterSchema.omit({ brand: true }).safeParse({
    ...(o.since ? { since: o.since } : {}),
    ...(o.until ? { until: o.until } : {}),
    ...(o.verdict ? { verdict: o.verdict } : {}),
    ...(o.outcome ? { outcome: o.outcome } : {}),
    ...(o.reason ? { reason: o.reason } : {}),
    ...(o.caller ? { caller: o.caller } : {}),
    ...(o.called ? { called: o.called } : {}),
    ...(o.stir ? { stir: o.stir } : {}),
  });
  if (!parsed.success) throw new InputError(z.prettifyError(parsed.error));
  const filter: CallFilter = parsed.data;
  if (filter.called) filter.called = calledNumberPolicy(config).apply(filter.called);
  return filter;
}

/**
 * `spoofguard report --brand amazon --since …`: the brand's flagged calls that no report holds yet, reported to
 * its abuse desk through the SMTP relay (reports.*), or written to an .eml file (--eml), or only shown
 * (--preview). Each call is reported once.
 */
export function reportCommand(program: Command, config: () => Config, out: (text: string) => void): void {
  program
    .command('report')
    .description("report flagged calls to the brand's abuse desk (e.g. Amazon: stop-spoofing@amazon.com)")
    .requiredOption('--brand <id>', 'the brand whose calls to report, e.g. amazon')
    .option('--since <time>', 'calls received at or after (ISO 8601 or epoch ms)')
    .option('--until <time>', 'calls received before')
    .option('--verdict <verdict>', 'warn or block')
    .option('--outcome <outcome>', 'only calls with this outcome, e.g. reported')
    .option('--reason <code>', 'only calls with this reason code')
    .option('--caller <e164>', "only this caller's calls")
    .option('--called <number>', 'only calls to this number (it never appears in the report)')
    .option('--stir <result>', 'only calls with this STIR/SHAKEN result, e.g. failed-signature')
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
