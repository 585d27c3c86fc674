import { type Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { InputError } from '../../common/errors';
import { LIST_KINDS, type ListKind, listEntryInputSchema } from '../../screening/list-entry';
import { csvHeader, entryToCsv, entryToRecord, formatFromName, parseListFile } from '../../screening/list-files';
import { seedEntries } from '../../screening/seed';
import { out, withAdmin } from '../context';
import { writeExport } from '../output';
import { createProgress } from '../progress';

function parseKinds(kinds: string | undefined): ListKind[] | undefined {
  if (!kinds) return undefined;
  const list = kinds.split(',').map((k) => k.trim());
  for (const k of list)
    if (!(LIST_KINDS as readonly string[]).includes(k))
      throw new InputError(`unknown list kind "${k}" (${LIST_KINDS.join(', ')})`);
  return list as ListKind[];
}

/** `spoofguard list …` and `spoofguard seed`: the lists in Redis. */
export function listCommands(program: Command): void {
  const list = program.command('list').description('manage the lists in Redis');
  list
    .command('add <kind> <value>')
    .description(`add an entry; kind is one of ${LIST_KINDS.join(', ')}`)
    .option('--brand <id>')
    .option('--reason <text>')
    .option('--label <text>')
    .option('--source <text>', 'where the entry comes from', 'cli')
    .option('--country <CC>', 'country of a national-format number')
    .option('--match <contains|word>', 'how a name pattern matches')
    .option('--expires <time>', 'ISO 8601 time or epoch ms after which the entry no longer counts')
    .action(async (kind: string, value: string, o: Record<string, string | undefined>) => {
      const parsed = listEntryInputSchema.safeParse({
        kind,
        value,
        brand: o.brand,
        reason: o.reason,
        label: o.label,
        source: o.source,
        country: o.country,
        match: o.match,
        expiresAt: o.expires,
      });
      if (!parsed.success) throw new InputError(z.prettifyError(parsed.error));
      await withAdmin(async ({ admin }) => {
        const version = await admin.add([parsed.data]);
        out(`added ${parsed.data.kind} ${parsed.data.value} (lists version ${version})\n`);
      });
    });
  list
    .command('remove <kind> <value>')
    .description('remove an entry')
    .option('--country <CC>', 'country of a national-format number')
    .action(async (kind: string, value: string, o: { country?: string }) => {
      const parsed = listEntryInputSchema.safeParse({ kind, value, country: o.country });
      if (!parsed.success) throw new InputError(z.prettifyError(parsed.error));
      await withAdmin(async ({ admin }) => {
        const removed = await admin.remove(parsed.data.kind, parsed.data.value);
        out(removed ? `removed ${kind} ${value}\n` : `${kind} ${value} was not listed\n`);
        if (!removed) process.exitCode = 4;
      });
    });
  list
    .command('show')
    .description('show entries (of a kind, a brand, or containing a text)')
    .option('--kind <kinds>', 'comma-separated kinds')
    .option('--brand <id>')
    .option('--search <text>', 'entries whose value, label or source contains this text')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'one JSON object a line')
    .action(async (o: { kind?: string; brand?: string; search?: string; limit: string; json?: boolean }) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new InputError('--limit takes a whole number ≥ 1');
      await withAdmin(async ({ admin }) => {
        const state = await admin.state();
        let shown = 0;
        const needle = o.search?.toLowerCase();
        for await (const entry of admin.entries(parseKinds(o.kind))) {
          if (o.brand && entry.brand !== o.brand) continue;
          if (needle && ![entry.value, entry.label, entry.source].some((f) => f?.toLowerCase().includes(needle)))
            continue;
          const rec = entryToRecord(entry);
          out(
            o.json
              ? `${JSON.stringify(rec)}\n`
              : `${String(rec.kind).padEnd(7)} ${String(rec.value).padEnd(18)} ${(rec.brand ?? '-').padEnd(10)} ${rec.label ?? ''} [${rec.source}]${rec.expiresAt ? ` expires ${rec.expiresAt}` : ''}\n`,
          );
          if (++shown >= limit) break;
        }
        if (!o.json) process.stderr.write(`${shown} shown; lists version ${state.version}, ${state.count} numbers\n`);
      });
    });
  list
    .command('import <file>')
    .description(
      'import entries from CSV (header: kind,value,brand,reason,label,source,country,match,expiresAt), JSON or JSON lines; bad rows are reported and skipped',
    )
    .addOption(new Option('--format <format>').choices(['csv', 'json', 'jsonl']))
    .option('--replace <kinds>', 'replace all current entries of these kinds (comma-separated) instead of merging')
    .action(async (file: string, o: { format?: string; replace?: string }) => {
      const parsed = parseListFile(readFileSync(file, 'utf8'), formatFromName(file, o.format));
      for (const bad of parsed.bad) process.stderr.write(`${file}:${bad.line}: ${bad.error}\n`);
      const replaceKinds = parseKinds(o.replace);
      await withAdmin(async ({ admin }) => {
        const progress = createProgress('import', parsed.entries.length);
        const result = await admin.import(parsed.entries, {
          replace: replaceKinds ? { kinds: replaceKinds } : undefined,
          onProgress: (d, t) => progress.update(d, t),
        });
        progress.stop();
        out(
          `imported ${result.imported} entries (kept ${result.kept}), ${parsed.bad.length} bad rows skipped; lists version ${result.version}\n`,
        );
      });
      if (parsed.bad.length) process.exitCode = 3;
    });
  list
    .command('export')
    .description('export entries as CSV, a JSON array or JSON lines (each imports again as it is)')
    .option('--kind <kinds>', 'comma-separated kinds')
    .addOption(new Option('--format <format>').choices(['csv', 'json', 'jsonl']).default('csv'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (o: { kind?: string; format: string; out?: string }) => {
      await withAdmin(async ({ admin }) => {
        const state = await admin.state();
        // a bar would mix with the entries when they go to the terminal too
        const progress = createProgress('export', state.count, o.out !== undefined);
        let n = 0;
        async function* text(): AsyncGenerator<string> {
          if (o.format === 'csv') yield csvHeader();
          if (o.format === 'json') yield '[';
          for await (const entry of admin.entries(parseKinds(o.kind))) {
            const json = JSON.stringify(entryToRecord(entry));
            // the array is streamed entry by entry, so a million entries never sit in memory at once
            yield o.format === 'csv'
              ? entryToCsv(entry)
              : o.format === 'json'
                ? `${n ? ',' : ''}\n${json}`
                : `${json}\n`;
            if (++n % 1000 === 0) progress.update(n);
          }
          if (o.format === 'json') yield '\n]\n';
        }
        try {
          await writeExport(text(), o.out);
        } finally {
          progress.stop();
        }
        process.stderr.write(`exported ${n} entries\n`);
      });
    });
  list
    .command('purge-expired')
    .description('drop expired entries')
    .action(async () => {
      await withAdmin(async ({ admin }) => {
        const result = await admin.purgeExpired();
        out(`kept ${result.kept} entries; lists version ${result.version}\n`);
      });
    });
  list
    .command('allow-for <called> <what>')
    .description('let one subscriber receive calls from a number or a brand ("brand:amazon"), optionally until a time')
    .option('--expires <time>', 'ISO 8601 time or epoch ms')
    .action(async (called: string, what: string, o: { expires?: string }) => {
      const expiresAt = o.expires ? (/^\d+$/.test(o.expires) ? Number(o.expires) : Date.parse(o.expires)) : 0;
      if (!Number.isFinite(expiresAt)) throw new InputError('--expires takes an ISO 8601 time or epoch ms');
      const target = what.startsWith('brand:')
        ? what
        : listEntryInputSchema.safeParse({ kind: 'allow', value: what }).data?.value;
      const subscriber = listEntryInputSchema.safeParse({ kind: 'allow', value: called }).data?.value ?? called;
      if (!target) throw new InputError(`"${what}" is neither an E.164 number nor brand:<id>`);
      await withAdmin(async ({ admin }) => {
        await admin.allowForSubscriber(subscriber, target, expiresAt);
        out(
          `subscriber ${subscriber} allows ${target}${expiresAt ? ` until ${new Date(expiresAt).toISOString()}` : ''}\n`,
        );
      });
    });

  program
    .command('seed')
    .description('load config/brands/*.yaml into the lists (idempotent: the brand files own what they seeded)')
    .action(async () => {
      await withAdmin(async ({ admin, brands }) => {
        const entries = seedEntries(brands);
        const result = await admin.import(entries, { replace: { origin: 'seed' } });
        out(`seeded ${entries.length} entries from ${brands.length} brand file(s); lists version ${result.version}\n`);
      });
    });
}
