import { z } from 'zod';
import { type ReportDesk, ReportNotSent } from '../abuse-reports';
import { callFilterSchema } from '../flagged-log/calls-format';
import type { CalledNumberPolicy } from '../flagged-log/rows';
import { brandIdSchema } from '../screening/brand-data';
import { filterOf } from './analyst-routes';
import { route, type Route } from './route';

export interface ReportDeps {
  desk: ReportDesk;
  called: CalledNumberPolicy;
}

/** The analyst's filters as the call list takes them (strings, as in its query), minus the brand: the report's own. */
const reportBody = z.strictObject({
  brand: brandIdSchema,
  filter: callFilterSchema.omit({ brand: true }).default({}),
});

/** The relay answered with an error or could not be reached: 502, with what it said. */
const notSent = (err: unknown) => {
  if (err instanceof ReportNotSent) return { status: 502, json: { error: err.message } };
  throw err;
};

export function reportRoutes(deps: ReportDeps): Route[] {
  return [
    route({
      method: 'POST',
      path: '/api/brand-reports/preview',
      summary:
        "The report to a brand's abuse desk of the calls the filter selects that no report holds yet: address, subject, text and CSV, nothing sent or marked.",
      role: 'analyst',
      body: reportBody,
      responds: '{ brand, to, source, canSend, calls, subject?, text?, csv?, filename? }',
      handler: async ({ body }) => {
        const preview = await deps.desk.preview(body.brand, filterOf(body.filter, deps.called));
        const { content, ...rest } = preview;
        return {
          json: {
            ...rest,
            calls: content?.calls ?? 0,
            ...(content
              ? { subject: content.subject, text: content.text, csv: content.csv, filename: content.filename }
              : {}),
          },
        };
      },
    }),
    route({
      method: 'POST',
      path: '/api/brand-reports',
      summary:
        'Makes the report and delivers it: through the SMTP relay (delivery send), or as an .eml file to send yourself (delivery eml). Its calls are marked reported and never reported again; 204 when none is left.',
      role: 'analyst',
      body: reportBody.extend({ delivery: z.enum(['send', 'eml']) }),
      responds: '{ reportId, to, calls, messageId } (send) or message/rfc822 (eml)',
      handler: async ({ body, caller }) => {
        let delivered;
        try {
          delivered = await deps.desk.deliver(
            body.brand,
            filterOf(body.filter, deps.called),
            body.delivery,
            caller.name ?? 'unknown',
          );
        } catch (err) {
          return notSent(err);
        }
        if (!delivered) return { status: 204, text: '', contentType: 'text/plain' };
        if (delivered.eml)
          return {
            stream: (async function* () {
              yield delivered.eml as Buffer;
            })(),
            contentType: 'message/rfc822',
            filename: delivered.filename ?? 'report.eml',
          };
        return {
          json: {
            reportId: delivered.reportId,
            to: delivered.to,
            calls: delivered.calls,
            messageId: delivered.messageId,
          },
        };
      },
    }),
  ];
}
