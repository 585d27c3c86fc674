import { parentPort, workerData } from 'node:worker_threads';
import { recordsCsv } from './calls-format';
import type { CallFilter } from './log-store';
import { CalledNumberPolicy } from './rows';
import { SqliteLogStore } from './sqlite-store';
import { EXPORT_PAGE, EXPORT_WINDOW, type ExportMessage, type ExportRequest } from './sqlite-export';

/**
 * The thread of a SQLite CSV export: reads the log through a read-only connection of its own (WAL lets it read
 * while `serve` writes), a page at a time, and posts each page as UTF-8 CSV. It runs at most EXPORT_WINDOW pages
 * ahead of what the reader took, so a slow client holds a few pages, not the log.
 */
async function run(port: NonNullable<typeof parentPort>, request: ExportRequest): Promise<void> {
  let credit = EXPORT_WINDOW;
  let wake: (() => void) | undefined;
  port.on('message', () => {
    credit++;
    wake?.();
  });
  // the thread reads, it never writes or pseudonymises: a filter's called number came already pseudonymised
  const store = new SqliteLogStore(request.file, new CalledNumberPolicy('plain', ''), { readOnly: true });
  const encoder = new TextEncoder();
  try {
    for await (const page of store.pages(request.filter as CallFilter, EXPORT_PAGE)) {
      while (credit === 0) await new Promise<void>((resolve) => (wake = resolve));
      credit--;
      const chunk = encoder.encode(recordsCsv(page));
      port.postMessage({ chunk, records: page.length } satisfies ExportMessage, [chunk.buffer]);
    }
    port.postMessage({ done: true } satisfies ExportMessage);
  } finally {
    // the port stays open: the reader ends this thread once it has taken the last page
    await store.close();
  }
}

if (parentPort) {
  const port = parentPort;
  run(port, workerData as ExportRequest).catch((err: unknown) =>
    port.postMessage({ error: (err as Error).message } satisfies ExportMessage),
  );
}
