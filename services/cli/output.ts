import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Writes an export to a file or stdout through stream.pipeline: backpressure from the sink, and on any
 * failure (a full disk, a closed pipe) both ends are closed — the file's descriptor and the source (the log
 * store's or list's iterator) — and the error reaches the command. stdout is never ended.
 */
export async function writeExport(chunks: AsyncIterable<string | Uint8Array>, file?: string): Promise<void> {
  if (file) await pipeline(Readable.from(chunks), createWriteStream(file));
  else await pipeline(Readable.from(chunks), process.stdout, { end: false });
}
