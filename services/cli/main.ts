import { Command, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { type Config, loadConfig } from '../common/config';
import { listSettings } from '../common/config-schema';
import { InputError, SpoofguardError, StartupError } from '../common/errors';
import { createLogger, type Logger } from '../common/logger';
import { installProcessPolicy } from '../common/process-policy';
import { openListAdmin, openScreening } from '../screening';
import { LIST_KINDS, type ListKind, listEntryInputSchema } from '../screening/list-entry';
import { seedEntries } from '../screening/seed';
import { screeningRequestSchema, type Verdict } from '../screening/verdict';
import { csvHeader, entryToCsv, entryToRecord, formatFromName, parseListFile } from '../screening/list-files';
import { writeExport } from './output';
import { createProgress } from './progress';
import { serve } from './serve';
import { callsCommands } from './calls';
import { Shutdown } from '../common/shutdown';
import { hashToken } from '../console/auth';
import { processOps, runCallRole, startConsole, startOps, startWorker } from './roles';

interface Context {
  config: Config;
  logger: Logger;
}

let context: Context | undefined;
const ctx = (): Context => {
  if (!context) {
    const config = loadConfig();
    context = { config, logger: createLogger({ level: config.log.level }) };
    installProcessPolicy(context.logger);
  }
  return context;
};

const out = (text: string): boolean => process.stdout.write(text);

function readableVerdict(v: Verdict): string {
  const caller = v.caller.e164 ?? v.caller.shortCode ?? `(${v.caller.kind})`;
  const name = v.caller.displayName ? ` "${v.caller.displayName}"` : '';
  const head = `${v.verdict.toUpperCase()} score=${v.score}${v.brand ? ` brand=${v.brand}` : ''}${v.degraded ? ' DEGRADED' : ''} ${caller}${name}`;
  const reasons = v.reasons.map((r) => `  - ${r.code}${r.suppressed ? ' (suppressed)' : ''}: ${r.text.en}`);
  return [head, ...reasons].join('\n') + '\n';
}

async function screenCommand(opts: {
  from?: string;
  pai?: string;
  name?: string;
  to?: string;
  trunk?: string;
  verstat?: string;
  json?: boolean;
}): Promise<void> {
  const { config, logger } = ctx();
  const screening = await openScreening(config, logger);
  try {
    if (opts.from !== undefined) {
      const request = screeningRequestSchema.parse({
        from: opts.from,
        assertedIdentity: opts.pai,
        name: opts.name,
        to: opts.to,
        trunk: opts.trunk,
        verstat: opts.verstat,
      });
      const verdict = await screening.engine.screen(request);
      out(opts.json ? `${JSON.stringify(verdict)}\n` : readableVerdict(verdict));
      return;
    }
    // Bulk: one JSON request a line in, one JSON verdict (or error) a line out, in the same order.
    const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
    let lineNo = 0;
    for await (const line of lines) {
      lineNo++;
      if (!line.trim()) continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        out(`${JSON.stringify({ line: lineNo, error: 'not JSON' })}\n`);
        continue;
      }
      const request = screeningRequestSchema.safeParse(parsed);
      if (!request.success) {
        out(`${JSON.stringify({ line: lineNo, error: z.prettifyError(request.error).replace(/\n/g, ' ') })}\n`);
        continue;
      }
      const verdict = await screening.engine.screen(request.data);
      out(opts.json === false ? readableVerdict(verdict) : `${JSON.stringify(verdict)}\n`);
    }
  } finally {
    await screening.close();
  }
}

async function withAdmin<T>(work: (admin: Awaited<ReturnType<typeof openListAdmin>>) => Promise<T>): Promise<T> {
  const { config, logger } = ctx();
  const admin = await openListAdmin(config, logger);
  try {
    return await work(admin);
  } finally {
    await admin.close();
  }
}

function parseKinds(kinds: string | undefined): ListKind[] | undefined {
  if (!kinds) return undefined;
  const list = kinds.split(',').map((k) => k.trim());
  for (const k of list)
    if (!(LIST_KINDS as readonly string[]).includes(k))
      throw new InputError(`unknown list kind "${k}" (${LIST_KINDS.join(', ')})`);
  return list as ListKind[];
}

export function buildProgram(): Command {
  const program = new Command('spoofguard')
    .description('Telephony fraud warnings: screens caller IDs that pose as brands (first Amazon).')
    .showHelpAfterError();

  program
    .command('screen')
    .description('screen one caller ID, or JSON requests from stdin (one a line)')
    .option('--from <value>', 'caller ID: the From header value, a URI or a number')
    .option('--pai <value>', 'P-Asserted-Identity value(s), trusted as the trunk says')
    .option('--name <name>', 'display name as the switch shows it (screened beside the headers’ names)')
    .option('--to <called>', 'called number')
    .option('--trunk <id>', 'trunk id (its country and whether it is international)')
    .option(
      '--verstat <value>',
      'STIR/SHAKEN result of the trunk’s own verification service (TN-Validation-Passed, -Failed, No-TN-Validation); ignored on a trunk without `verification`',
    )
    .option('--json', 'print the verdict as JSON')
    .option('--no-json', 'in bulk mode, print readable lines')
    .action(screenCommand);

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

  program
    .command('worker')
    .description('write flagged-call events from the queue to the log; SIGTERM finishes the batch in hand')
    .action(async () => {
      const { config, logger } = ctx();
      const shutdown = new Shutdown(logger);
      const stopped = shutdown.listen();
      const ops = processOps('worker');
      await startWorker(config, logger, shutdown, ops);
      await startOps(config, logger, shutdown, ops);
      await stopped;
    });

  program
    .command('ari')
    .description(
      'the Asterisk Stasis app: screen every inbound call, warn the subscriber before connecting; SIGTERM lets calls finish',
    )
    .action(async () => {
      const { config, logger } = ctx();
      await runCallRole('ari', config, logger);
    });

  program
    .command('sip')
    .description(
      'the SIP front for carriers (drachtio-srf): screen every INVITE, pass clean calls on, send warned ones to the IVR, reject blocked ones with 608',
    )
    .action(async () => {
      const { config, logger } = ctx();
      await runCallRole('sip', config, logger);
    });

  const consoleCommand = program
    .command('console')
    .description("the analysts' and admins' HTTP API and dashboard, with /metrics and /health; SIGTERM stops it")
    .action(async () => {
      const { config, logger } = ctx();
      const shutdown = new Shutdown(logger);
      const stopped = shutdown.listen();
      await startConsole(config, logger, shutdown, processOps('console'));
      await stopped;
    });
  consoleCommand
    .command('token')
    .description('make a new API token; prints the token once and the config entry that holds only its hash')
    .requiredOption('--name <name>', 'who or what uses it (letters, digits, . _ @ -)')
    .addOption(
      new Option('--role <role>', 'analyst reads the log; admin also changes lists')
        .choices(['analyst', 'admin'])
        .makeOptionMandatory(),
    )
    .action((o: { name: string; role: 'analyst' | 'admin' }) => {
      if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(o.name)) throw new InputError('--name: 1-64 of A-Z a-z 0-9 _ . @ -');
      const token = randomBytes(24).toString('base64url');
      out(
        `token (shown once, give it to ${o.name}): ${token}\n\n` +
          `config/local.yaml:\n  console:\n    tokens:\n      ${o.name}: { role: ${o.role}, sha256: ${hashToken(token)} }\n\n` +
          `or SPOOFGUARD_CONSOLE_TOKENS='${JSON.stringify({ [o.name]: { role: o.role, sha256: hashToken(token) } })}'\n`,
      );
    });

  callsCommands(program, () => ctx().config, out);

  program
    .command('serve')
    .description('run every role of one box in one process (what npm start runs); SIGTERM stops it cleanly')
    .action(async () => {
      const { config, logger } = ctx();
      try {
        await serve(config, logger);
      } catch (err) {
        if (!(err instanceof StartupError)) throw err;
        // every role was stopped in order: what a half-started role may still hold (a listener of a server
        // that never listened) must not keep the process up
        process.stderr.write(`spoofguard: ${err.message}\n`, () => process.exit(err.exitCode));
      }
    });

  program
    .command('config')
    .description('print the effective configuration (secrets hidden) and where each key can be overridden')
    .action(() => {
      const { config } = ctx();
      const secret = new Set(
        listSettings()
          .filter((s) => s.setting.secret)
          .map((s) => s.path),
      );
      const shown = JSON.parse(JSON.stringify(config)) as Record<string, Record<string, unknown>>;
      for (const path of secret) {
        const [a, b] = path.split('.');
        const value = b && shown[a] ? String(shown[a][b]) : '';
        if (value) shown[a][b] = /^\w+:\/\//.test(value) ? value.replace(/\/\/([^@/]*)@/, '//***@') : '***';
      }
      out(`${JSON.stringify(shown, null, 2)}\n`);
    });
  return program;
}

/** The central error handler: our errors print their message and exit code, anything else its stack. */
export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof SpoofguardError) {
      process.stderr.write(`spoofguard: ${err.message}\n`);
      process.exitCode = err.exitCode;
    } else if (err instanceof z.ZodError) {
      process.stderr.write(`spoofguard: ${z.prettifyError(err)}\n`);
      process.exitCode = 65;
    } else {
      process.stderr.write(`spoofguard: ${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    }
  }
}

if (require.main === module) void main(process.argv);
