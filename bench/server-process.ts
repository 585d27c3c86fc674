import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';

/** A benchmark's test server in its own process (as Asterisk or drachtio-server are), driven over IPC. */
export function forkServer(file: string): { child: ChildProcess; nextMessage<T>(): Promise<T> } {
  const child = fork(join(__dirname, file), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    child,
    nextMessage: <T>() => new Promise<T>((resolve) => child.once('message', (m) => resolve(m as T))),
  };
}
