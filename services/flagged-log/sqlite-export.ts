import { on } from 'node:events';
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
  const ended = new AbortController();
  let exitCode: number | undefined;
  worker.once('exit', (code) => {
    exitCode = code;
    ended.abort();
  });
  try {
    for await (const [message] of on(worker, 'message', { signal: ended.signal }) as AsyncIterable<[ExportMessage]>) {
      if ('error' in message) throw new Error(`CSV export of the SQLite log failed: ${message.error}`);
      if ('done' in message) return;
      yield { text: message.chunk, records: message.records };
      worker.postMessage('more');
    }
  } catch (err) {
    if (!ended.signal.aborted || (err as Error).name !== 'AbortError') throw err;
    throw new Error(`CSV export of the SQLite log failed: its thread exited (code ${exitCode}) before the end`);
  } finally {
    ended.abort();
    await worker.terminate();
  }
}
