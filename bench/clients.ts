import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';

/** The simulated ADS clients (bench/ads-clients.ts) in a child process, driven by commands. */
export class Clients {
  readonly #child: ChildProcess;
  #next = 0;
  readonly #pending = new Map<number, (result: unknown) => void>();
  constructor() {
    this.#child = fork(path.join(import.meta.dirname, 'ads-clients.ts'), [], { execPath: process.execPath, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#child.on('message', (message: { id: number; result: unknown }) => this.#pending.get(message.id)?.(message.result));
  }
  send<T>(command: Record<string, unknown>): Promise<T> {
    const id = ++this.#next;
    return new Promise<T>((resolve) => {
      this.#pending.set(id, (result) => resolve(result as T));
      this.#child.send({ ...command, id });
    });
  }
}
