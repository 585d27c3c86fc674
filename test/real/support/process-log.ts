import type { ChildProcess } from 'node:child_process';

/**
 * The last few megabytes a server process wrote (stdout and stderr), kept as chunks: re-slicing one long string
 * per chunk cost the benchmarks a core.
 */
export class ProcessLog {
  private chunks: string[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes = 5_000_000) {}

  /** Starts afresh and keeps what `child` writes from now on. */
  follow(child: ChildProcess): void {
    this.chunks = [];
    this.bytes = 0;
    const keep = (d: Buffer) => {
      const text = d.toString();
      this.chunks.push(text);
      this.bytes += text.length;
      while (this.bytes > this.maxBytes && this.chunks.length > 1) this.bytes -= (this.chunks.shift() as string).length;
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  text(): string {
    return this.chunks.join('');
  }
}
