import { z } from 'zod';
import { E164 } from '../common/e164';
import { InputError } from '../common/errors';
import { LANGUAGES } from '../screening/brand-data';
import type { ListAdmin } from '../screening/list-admin';
import { LIST_KINDS, type ListEntry, listEntryInputSchema } from '../screening/list-entry';
import { entryToRecord, parseListFile } from '../screening/list-files';
import type { ReportCounter } from '../screening/reports';
import { NotFound, route, type Route } from './route';

export interface AdminDeps {
  admin: ListAdmin;
  reports: ReportCounter;
  importLimitBytes: number;
}

const e164 = z
  .string()
  .transform((s) => s.replace(/^ (?=\d)/, '+'))
  .pipe(z.string().regex(E164, 'an E.164 number such as +4930901820'));
const subscriberParams = z.strictObject({ number: e164 });
const digitsOf = (number: string): string => number.slice(1);

/** A number, or brand:<id>, that a subscriber lets through. */
const allowTarget = z.union([e164.transform(digitsOf), z.string().regex(/^brand:[a-z0-9-]{1,40}$/)]);

const entryKey = z
  .strictObject({ kind: z.enum(LIST_KINDS), value: z.string().min(1).max(200), country: z.string().optional() })
  .transform((key, ctx) => {
    const parsed = listEntryInputSchema.safeParse(key);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, code: 'custom' } as never);
      return z.NEVER;
    }
    return { kind: parsed.data.kind, value: parsed.data.value };
  });

/** The list entries as admins see them: numbers with "+", times as ISO text. */
const shown = (entry: ListEntry) => ({
  ...Object.fromEntries(Object.entries(entryToRecord(entry)).filter(([, v]) => v !== undefined)),
  origin: entry.origin,
  addedAt: entry.addedAt ? new Date(entry.addedAt).toISOString() : undefined,
});

export function adminRoutes(deps: AdminDeps): Route[] {
  return [
    route({
      method: 'GET',
      path: '/api/lists/entries',
      summary: 'Search the lists: entries whose value, brand, label or reason contains q (first `limit` matches).',
      role: 'admin',
      query: z.strictObject({
        kind: z.enum(LIST_KINDS).optional(),
        q: z.string().max(100).optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
      }),
      responds: '{ entries, complete }',
      handler: async ({ query }) => {
        const needle = query.q?.replace(/^\+/, '').toLowerCase();
        const entries = [];
        let complete = true;
        for await (const entry of deps.admin.entries(query.kind ? [query.kind] : undefined)) {
          const haystack = [entry.value, entry.brand, entry.label, entry.reason].join(' ').toLowerCase();
          if (needle && !haystack.includes(needle)) continue;
          if (entries.length === query.limit) {
            complete = false;
            break;
          }
          entries.push(shown(entry));
        }
        return { json: { entries, complete } };
      },
    }),
    route({
      method: 'POST',
      path: '/api/lists/entries',
      summary: 'Add entries (one object or an array of up to 1,000): number, prefix, name pattern or allowlist.',
      role: 'admin',
      // one entry or many: validated as a list, so an issue names the entry (body.0.value)
      body: z.preprocess((v) => (Array.isArray(v) ? v : [v]), z.array(listEntryInputSchema).min(1).max(1000)),
      responds: '{ added, version }',
      handler: async ({ body, caller }) => {
        const entries = body.map((e) => ({
          ...e,
          source: e.source === 'manual' ? `console:${caller.name}` : e.source,
        }));
        const version = await deps.admin.add(entries);
        return { status: 201, json: { added: entries.length, version } };
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/lists/entries',
      summary: 'Remove one entry by kind and value.',
      role: 'admin',
      query: entryKey,
      responds: '{ removed: true }',
      handler: async ({ query }) => {
        if (!(await deps.admin.remove(query.kind, query.value)))
          throw new NotFound(`no ${query.kind} entry ${query.value}`);
        return { json: { removed: true } };
      },
    }),
    route({
      method: 'POST',
      path: '/api/lists/import',
      summary:
        'Bulk import (CSV with a header row, a JSON array, or JSON lines). Bad rows are reported; nothing is imported unless skipBad=true.',
      role: 'admin',
      query: z.strictObject({
        format: z.enum(['csv', 'json', 'jsonl']).optional(),
        skipBad: z.enum(['true', 'false']).default('false'),
      }),
      body: z.union([z.string(), z.array(z.unknown())]),
      textBody: {
        contentTypes: ['text/csv', 'text/plain', 'application/x-ndjson'],
        limitBytes: deps.importLimitBytes,
      },
      responds: '{ imported, kept, version, bad }',
      handler: async ({ query, body }) => {
        const format = query.format ?? (Array.isArray(body) ? 'json' : 'csv');
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        const parsed = parseListFile(text, format);
        const bad = parsed.bad.slice(0, 100);
        if (parsed.bad.length && query.skipBad !== 'true')
          return {
            status: 400,
            json: {
              error: `${parsed.bad.length} bad row(s); nothing imported (fix them, or send skipBad=true to import the rest)`,
              badCount: parsed.bad.length,
              bad,
            },
          };
        if (parsed.entries.length === 0) throw new InputError('no entries to import');
        const result = await deps.admin.import(parsed.entries);
        return { json: { ...result, badCount: parsed.bad.length, bad } };
      },
    }),
    route({
      method: 'GET',
      path: '/api/subscribers/:number',
      summary: "A subscriber's preferences (warnings on/off, language) and personal allowlist.",
      role: 'admin',
      params: subscriberParams,
      responds: '{ number, warnings?, language?, allow }',
      handler: async ({ params }) => {
        const sub = await deps.admin.subscriber(digitsOf(params.number));
        return {
          json: {
            number: params.number,
            ...sub,
            allow: sub.allow.map((a) => ({ ...a, what: a.what.startsWith('brand:') ? a.what : `+${a.what}` })),
          },
        };
      },
    }),
    route({
      method: 'PUT',
      path: '/api/subscribers/:number/preferences',
      summary: "Set a subscriber's preferences.",
      role: 'admin',
      params: subscriberParams,
      body: z
        .strictObject({ warnings: z.boolean().optional(), language: z.enum(LANGUAGES).optional() })
        .refine((b) => b.warnings !== undefined || b.language !== undefined, 'give warnings and/or language'),
      responds: '{ ok: true }',
      handler: async ({ params, body }) => {
        await deps.admin.setSubscriberPreferences(digitsOf(params.number), body);
        return { json: { ok: true } };
      },
    }),
    route({
      method: 'POST',
      path: '/api/subscribers/:number/allow',
      summary: 'Let a subscriber receive calls from a number or a brand (brand:<id>), optionally until a time.',
      role: 'admin',
      params: subscriberParams,
      body: z.strictObject({ what: allowTarget, expiresAt: z.iso.datetime({ offset: true }).optional() }),
      responds: '{ ok: true }',
      handler: async ({ params, body }) => {
        await deps.admin.allowForSubscriber(
          digitsOf(params.number),
          body.what,
          body.expiresAt ? Date.parse(body.expiresAt) : 0,
        );
        return { status: 201, json: { ok: true } };
      },
    }),
    route({
      method: 'DELETE',
      path: '/api/subscribers/:number/allow',
      summary: "Remove one entry of a subscriber's allowlist.",
      role: 'admin',
      params: subscriberParams,
      query: z.strictObject({ what: allowTarget }),
      responds: '{ removed: true }',
      handler: async ({ params, query }) => {
        if (!(await deps.admin.disallowForSubscriber(digitsOf(params.number), query.what)))
          throw new NotFound(`${params.number} has no allowlist entry ${query.what}`);
        return { json: { removed: true } };
      },
    }),
    route({
      method: 'POST',
      path: '/api/reports/:number/promote',
      summary: 'Put a reported caller number on the brand-number list.',
      role: 'admin',
      params: subscriberParams,
      body: z.strictObject({
        brand: z
          .string()
          .regex(/^[a-z0-9-]{1,40}$/)
          .optional(),
        reason: z.string().max(300).optional(),
      }),
      responds: '{ version }',
      handler: async ({ params, body, caller }) => {
        const report = await deps.reports.get(params.number);
        if (!report) throw new NotFound(`${params.number} was not reported`);
        const brand = body.brand ?? report.brand;
        const version = await deps.admin.add([
          {
            kind: 'number',
            value: digitsOf(params.number),
            ...(brand ? { brand } : {}),
            reason: body.reason ?? `reported by ${report.count} subscriber(s)`,
            source: `console:${caller.name}`,
            origin: 'report',
            addedAt: Date.now(),
          },
        ]);
        await deps.reports.markPromoted(params.number);
        return { status: 201, json: { version } };
      },
    }),
  ];
}
