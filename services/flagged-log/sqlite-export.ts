import { extname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { csvHeaderRow, type CsvChunk } from './calls-format';
import type { CallFilter } from './log-store';

/**
 * The CSV export of the SQLite log, off the event loop. better-sqlite3 is synchronous: an export run in `serve`'s
 * own thread holds the loop the call path shares for every page it reads and formats (a million rows is ten
 * seconds of such pages). A worker thread does both with a read-only connection of its own; this side only
 * passes its chunks on.
 */
export const EXPORT_PAGE = 2000;
/** Pages the thread may run ahead of the reader. */
export const EXPORT_WINDOW = 4;

export interface ExportRequest {
  file: string;
  filter: CallFilter;
}
export type ExportMessage = { chunk: Uint8Array; records: number } | { done: true } | { error: string };

/** The thread's module: compiled JavaScript beside this file, or TypeScript run through tsx in a checkout. */
function threadModule(): { file: string; execArgv: string[] } {
  const ext = extname(__filename);
  return {
    file: join(__dirname, `sqlite-export-thread${ext}`),
    execArgv: ext === '.ts' ? ['--require', 'tsx/cjs'] : [],
  };
}

export async function* csvOffLoop(file: string, filter: CallFilter): AsyncGenerator<CsvChunk> {
  yield { text: csvHeaderRow(), records: 0 };
  const thread = threadModule();
  const worker = new Worker(thread.file, {
    workerData: { file, filter } satisfies ExportRequest,
    execArgv: thread.execArgv,
  });
  // the thread's messages and its end, in the order they came: a thread that exits right after its last pages
  // must not lose them to its exit event (an abort would drop what the reader had not taken yet)
  const inbox: (ExportMessage | { exited: number })[] = [];
  let wake: (() => void) | undefined;
  const deliver = (item: ExportMessage | { exited: number }): void => {
    inbox.push(item);
    wake?.();
  };
  worker.on('message', (message: ExportMessage) => deliver(message));
  worker.once('error', (err: Error) => deliver({ error: err.message }));
  worker.once('exit', (code: number) => deliver({ exited: code }));
  try {
    for (;;) {
      while (inbox.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const item = inbox.shift() as ExportMessage | { exited: number };
      if ('exited' in item)
        throw new Error(`CSV export of the SQLite log failed: its thread exited (code ${item.exited}) before the end`);
      if ('error' in item) throw new Error(`CSV export of the SQLite log failed: ${item.error}`);
      if ('done' in item) return;
      yield { text: item.chunk, records: item.records };
      worker.postMessage('more');
    }
  } finally {
    await worker.terminate();
  }
}
