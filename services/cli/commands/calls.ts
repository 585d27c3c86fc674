import { Command, Option } from 'commander';
import { InputError } from '../../common/errors';
import { openLogStore } from '../../flagged-log';
import type { FlaggedCallRecord } from '../../flagged-log';
import { type CsvChunk, csvHeaderRow, recordsCsv } from '../../flagged-log/calls-format';
import { filterFrom, withFilters } from '../call-filters';
import { openQueue } from '../../events';
import type { Config } from '../../common/config';
import { writeExport } from '../output';
import { createProgress } from '../progress';

async function* mapPages(
  pages: AsyncIterable<FlaggedCallRecord[]>,
  text: (page: FlaggedCallRecord[]) => string,
): AsyncGenerator<CsvChunk> {
  for await (const page of pages) yield { text: text(page), records: page.length };
}

export function callsCommands(program: Command, config: () => Config, out: (text: string) => void): void {
  const calls = program.command('calls').description('read the flagged-call log');
  withFilters(calls.command('list').description('the newest flagged calls first'))
    .option('--limit <n>', 'at most this many', '50')
    .addOption(new Option('--format <format>').choices(['table', 'json', 'csv']).default('table'))
    .action(async (o: Record<string, string | undefined>) => {
      const limit = Number(o.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10000)
        throw new InputError('--limit takes a whole number from 1 to 10000');
      const store = await openLogStore(config());
      try {
        const page = await store.list(filterFrom(o, config()), { limit });
        if (o.format === 'csv') out(csvHeaderRow() + recordsCsv(page.records));
        else if (o.format === 'json') out(page.records.map((r) => `${JSON.stringify(r)}\n`).join(''));
        else
          for (const r of page.records)
            out(
              `${new Date(r.receivedAt).toISOString()}  ${(r.verdict ?? '-').padEnd(5)} ${String(r.score ?? '').padStart(3)}  ${(r.callerE164 ?? r.callerRaw ?? '').padEnd(16)} ${(r.brand ?? '-').padEnd(8)} ${(r.outcome ?? '-').padEnd(14)} ${r.reasons.join(',')}\n`,
            );
      } finally {
        await store.close();
      }
    });
  withFilters(calls.command('export').description('stream every matching call, newest first, as CSV or JSON lines'))
    .addOption(new Option('--format <format>').choices(['csv', 'json']).default('csv'))
    .option('--out <file>', 'write to a file instead of stdout')
    .action(async (o: Record<string, string | undefined>) => {
      const filter = filterFrom(o, config());
      const store = await openLogStore(config());
      try {
        const progress = createProgress('export', o.out ? await store.count(filter) : 0, o.out !== undefined);
        let n = 0;
        // a page of records is written at once; CSV as the store makes it (SQLite: off this thread)
        const chunks =
          o.format === 'csv'
            ? store.csv(filter)
            : mapPages(store.pages(filter), (page) => page.map((r) => `${JSON.stringify(r)}\n`).join(''));
        async function* rows(): AsyncGenerator<string | Uint8Array> {
          for await (const chunk of chunks) {
            yield chunk.text;
            n += chunk.records;
            progress.update(n);
          }
        }
        try {
          await writeExport(rows(), o.out);
        } finally {
          progress.update(n);
          progress.stop();
        }
        process.stderr.write(`exported ${n} calls\n`);
      } finally {
        await store.close();
      }
    });

  const queue = program.command('queue').description('the flagged-call event queue');
  queue
    .command('status')
    .description('job counts by state')
    .action(async () => {
      const { queue: q, close } = openQueue(config());
      try {
        out(`${JSON.stringify(await q.counts())}\n`);
      } finally {
        await close();
      }
    });
  queue
    .command('failed')
    .description('failed jobs with their reasons')
    .option('--limit <n>', 'at most this many', '50')
    .action(async (o: { limit: string }) => {
      const { queue: q, close } = openQueue(config());
      try {
        for (const job of await q.failed(0, Math.max(1, Number(o.limit) || 50) - 1))
          out(`${JSON.stringify({ ...job, data: JSON.stringify(job.data).slice(0, 300) })}\n`);
      } finally {
        await close();
      }
    });
  queue
    .command('retry [ids...]')
    .description('move failed jobs (the given ids, or all) back to the queue')
    .action(async (ids: string[]) => {
      const { queue: q, close } = openQueue(config());
      try {
        out(`retried ${await q.retryFailed(ids.length ? ids : undefined)} jobs\n`);
      } finally {
        await close();
      }
    });
}
