import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';

const REPO = path.join(import.meta.dirname, '..', '..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `infermesh serve` as its own process, the way an operator runs it, on loopback ports chosen by the kernel.
 * Ports are read from the "infermesh serving" log line. Call kill() in afterEach: it SIGKILLs by PID.
 */
export class ServeProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly xdsPort: number;
  readonly adminPort: number;
  /** Every stdout line (pino JSON) and stderr line, for assertions and for failure messages. */
  readonly output: string[];
  readonly #lines: Interface;

  private constructor(child: ChildProcess, exited: Promise<Exit>, ports: { xds: number; admin: number }, output: string[], lines: Interface) {
    this.child = child;
    this.#lines = lines;
    this.exited = exited;
    this.xdsPort = ports.xds;
    this.adminPort = ports.admin;
    this.output = output;
  }

  static async start(configDir = 'examples/basic', extraArgs: string[] = []): Promise<ServeProcess> {
    const args = ['bin/infermesh.js', 'serve', '--config-dir', configDir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0', ...extraArgs];
    // process.execPath is the Node 24 that runs vitest (npx puts the project's node first on PATH).
    const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    const lines = createInterface({ input: child.stdout! });
    const ports = await new Promise<{ xds: number; admin: number }>((resolve, reject) => {
      lines.on('line', (line) => {
        output.push(line);
        const entry = parseJson(line);
        if (entry?.['msg'] !== 'infermesh serving') return;
        resolve({ xds: portOf(entry['xds']), admin: portOf(entry['admin']) });
      });
      void exited.then((exit) => reject(new Error(`serve exited before serving (${JSON.stringify(exit)}):\n${output.join('\n')}`)));
    });
    return new ServeProcess(child, exited, ports, output, lines);
  }

  /** Resolves with the first log entry, already written or still to come, that matches. */
  logged(predicate: (entry: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const match = (line: string) => {
      const entry = parseJson(line);
      return entry && predicate(entry) ? entry : undefined;
    };
    for (const line of this.output) {
      const entry = match(line);
      if (entry) return Promise.resolve(entry);
    }
    return new Promise((resolve, reject) => {
      const onLine = (line: string) => {
        const entry = match(line);
        if (!entry) return;
        this.#lines.off('line', onLine);
        resolve(entry);
      };
      this.#lines.on('line', onLine);
      void this.exited.then((exit) => reject(new Error(`serve exited (${JSON.stringify(exit)}) before logging what was awaited`)));
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  kill(): void {
    if (this.running && this.child.pid !== undefined) process.kill(this.child.pid, 'SIGKILL');
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function portOf(address: unknown): number {
  const port = Number(/:(\d+)$/.exec(String(address))?.[1]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port in ${String(address)}`);
  return port;
}

/** Resolves with the exit, or with undefined if the process is still running after `ms`. */
export async function exitWithin(serve: ServeProcess, ms: number): Promise<Exit | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)));
  try {
    return await Promise.race([serve.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
