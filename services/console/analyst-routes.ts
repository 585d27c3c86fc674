import { z } from 'zod';
import type { CalledNumberPolicy } from '../flagged-log/rows';
import { callFilterSchema } from '../flagged-log/calls-format';
import type { CallFilter, CallStats, FlaggedCallRecord, LogStore } from '../flagged-log';
import type { ReportCounter } from '../screening/reports';
import type { RuleSet } from '../screening/rules';
import type { ReasonCode } from '../domain/reason-codes';
import { NotFound, route, type Route } from './route';

export interface AnalystDeps {
  store: LogStore;
  called: CalledNumberPolicy;
  rules: RuleSet;
  reports: ReportCounter;
}

const listQuery = callFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
});
const statsQuery = callFilterSchema.extend({ bucket: z.enum(['hour', 'day']).default('hour') });
const callParams = z.strictObject({ callId: z.string().regex(/^[\w.@:+\-/%]{1,200}$/, 'a call id') });

/** The log keeps called numbers as pseudonyms: a called-number filter is looked up the same way. */
export function filterOf(query: Partial<z.infer<typeof callFilterSchema>>, called: CalledNumberPolicy): CallFilter {
  const filter: CallFilter = { ...query };
  if (filter.called) filter.called = called.apply(filter.called);
  return filter;
}

/** The reason codes of a record with their texts, so an analyst reads why without a lookup table. */
function withReasonTexts(record: FlaggedCallRecord, rules: RuleSet) {
  return {
    ...record,
    reasonTexts: record.reasons.map((code) => {
      const text = rules.reason(code as ReasonCode, {}, record.brand).text;
      // the log keeps codes, not the values a template names: drop the then empty "()" and ("")
      const tidy = (s: string) => s.replace(/\s*\(\s*(?:"")?\s*\)/g, '');
      return { code, text: { en: tidy(text.en), de: tidy(text.de) } };
    }),
  };
}

/** The export never holds more than a few pages in memory: fastify writes each chunk with backpressure. */
async function* csvStream(store: LogStore, filter: CallFilter): AsyncGenerator<string | Uint8Array> {
  for await (const chunk of store.csv(filter)) yield chunk.text;
}

const STATS_TTL_MS = 30_000;

export function analystRoutes(deps: AnalystDeps): Route[] {
  const statsCache = new Map<string, { until: number; stats: Promise<CallStats> }>();
  return [
    route({
      method: 'GET',
      path: '/api/audit',
      summary:
        'The audit trail of admin actions, newest first: who (token name), what (method and path), when, on what, how many entries.',
      role: 'analyst',
      query: z.strictObject({
        limit: z.coerce.number().int().min(1).max(500).default(100),
        before: z.coerce.number().int().positive().optional(),
      }),
      responds: '{ records: [{ id, at, actor, action, target?, count?, detail? }] }',
      handler: async ({ query }) => {
        const records = await deps.store.listAudit({
          limit: query.limit,
          ...(query.before ? { before: query.before } : {}),
        });
        return { json: { records: records.map((r) => ({ ...r, at: new Date(r.at).toISOString() })) } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/whoami',
      summary: "The token's name and role (the dashboard shows admin actions only to admins).",
      role: 'analyst',
      responds: '{ name, role }',
      handler: async ({ caller }) => ({ json: { name: caller.name, role: caller.role } }),
    }),
    route({
      method: 'GET',
      path: '/api/calls',
      summary: 'Flagged calls, newest first, filtered, one page at a time (pass nextCursor back as cursor).',
      role: 'analyst',
      query: listQuery,
      responds: '{ records: FlaggedCallRecord[], nextCursor?: string }',
      handler: async ({ query }) => {
        const { limit, cursor, ...filter } = query;
        const page = await deps.store.list(filterOf(filter, deps.called), { limit, ...(cursor ? { cursor } : {}) });
        return { json: page };
      },
    }),
    route({
      method: 'GET',
      path: '/api/calls.csv',
      summary: 'Every matching flagged call as CSV, streamed (large ranges are fine).',
      role: 'analyst',
      query: callFilterSchema,
      responds: 'text/csv',
      handler: async ({ query }) => ({
        stream: csvStream(deps.store, filterOf(query, deps.called)),
        contentType: 'text/csv; charset=utf-8',
        filename: 'flagged-calls.csv',
      }),
    }),
    route({
      method: 'GET',
      path: '/api/calls/:callId',
      summary: "One flagged call's record, with the texts of its reasons.",
      role: 'analyst',
      params: callParams,
      responds: 'FlaggedCallRecord & { reasonTexts }',
      handler: async ({ params }) => {
        const record = await deps.store.get(params.callId);
        if (!record) throw new NotFound(`no flagged call ${params.callId}`);
        return { json: withReasonTexts(record, deps.rules) };
      },
    }),
    route({
      method: 'GET',
      path: '/api/stats',
      summary:
        "Counts over time (hour or day), by brand, reason and outcome, and the warning's effect (kept 30 s per query).",
      role: 'analyst',
      query: statsQuery,
      responds: 'CallStats',
      handler: async ({ query }) => {
        const { bucket, ...filter } = query;
        const key = JSON.stringify([bucket, filter]);
        const hit = statsCache.get(key);
        if (hit && hit.until > Date.now()) return { json: await hit.stats };
        // the same query from several dashboards shares one database pass, which takes seconds on a big log
        const stats = deps.store.stats(filterOf(filter, deps.called), bucket);
        statsCache.set(key, { until: Date.now() + STATS_TTL_MS, stats });
        stats.catch(() => statsCache.delete(key));
        if (statsCache.size > 100) statsCache.delete(statsCache.keys().next().value as string);
        return { json: await stats };
      },
    }),
    route({
      method: 'GET',
      path: '/api/reports',
      summary: 'Caller numbers subscribers reported ("press 3"), most reported first.',
      role: 'analyst',
      query: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(50) }),
      responds: '{ reports: { number, count, brand?, last?, promoted? }[] }',
      handler: async ({ query }) => ({ json: { reports: await deps.reports.top(query.limit) } }),
    }),
  ];
}
