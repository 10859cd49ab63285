/**
 * A real Envoy as its own process, for the sidecar tests: loopback only, one worker thread by default, a
 * --base-id no other Envoy on the machine uses, its log in test-results/envoy/, stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { renderBootstrap } from '../../src/inject/bootstrap.ts';
import type { XdsClientTls } from '../../src/inject/xds-tls.ts';
// Not from ./tools.ts: the demo and the benchmark start Envoys with this class, outside vitest.
import { REPO, type EnvoyBinary } from '../../scripts/envoy-lookup.ts';

export const ENVOY_LOG_DIR = path.join(REPO, 'test-results', 'envoy');
const TEMPLATE = readFileSync(path.join(REPO, 'envoy', 'bootstrap.yaml'), 'utf8');

/** A TCP port on `host` that was free a moment ago (the kernel's choice). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

let started = 0;
/** Unique per process on this machine: parallel test files (other PIDs) and Envoys in one file never collide. */
function uniqueBaseId(): number {
  started += 1;
  return ((process.pid % 20_000) * 100 + (started % 100)) % 2_000_000_000;
}

export interface EnvoyOptions {
  binary: EnvoyBinary;
  xdsPort: number;
  /** More control-plane replicas on loopback: hosts of the xDS cluster after 127.0.0.1:xdsPort. */
  moreXdsPorts?: readonly number[];
  nodeId: string;
  /** Default 1. */
  concurrency?: number;
  logLevel?: string;
  /** How long start() waits for /ready to say LIVE; default 20 s (thousands of clusters take longer). */
  readyTimeoutMs?: number;
  /** More command-line flags, e.g. `--file-flush-interval-msec 50` to read access-log lines at once. */
  extraArgs?: string[];
  /** TLS to the control plane, as `infermesh bootstrap --xds-tls-*` writes it. */
  xdsTls?: XdsClientTls;
  /** node.locality.zone, as `infermesh bootstrap --zone` writes it. */
  zone?: string;
}

export class EnvoyProcess {
  readonly binary: EnvoyBinary;
  readonly nodeId: string;
  readonly adminUrl: string;
  readonly statusUrl: string;
  readonly logFile: string;
  readonly bootstrap: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(options: EnvoyOptions, child: ChildProcess, adminPort: number, statusPort: number, logFile: string, bootstrap: string) {
    this.binary = options.binary;
    this.nodeId = options.nodeId;
    this.adminUrl = `http://127.0.0.1:${adminPort}`;
    this.statusUrl = `http://127.0.0.1:${statusPort}`;
    this.logFile = logFile;
    this.bootstrap = bootstrap;
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts Envoy with the project's bootstrap (the one `infermesh bootstrap` prints) and waits until it is LIVE. */
  static async start(options: EnvoyOptions): Promise<EnvoyProcess> {
    // A port found free can be taken by another test before Envoy binds it; Envoy then exits at once. Only
    // that is retried, with new ports (the bootstrap's admin and status ports are the only ones it binds).
    for (let attempt = 1; ; attempt++) {
      try {
        return await EnvoyProcess.#startOnce(options);
      } catch (error) {
        if (attempt >= 3 || !/exited during start[\s\S]*Address already in use/.test((error as Error).message)) throw error;
      }
    }
  }

  static async #startOnce(options: EnvoyOptions): Promise<EnvoyProcess> {
    const [adminPort, statusPort] = [await freePort(), await freePort()];
    const bootstrap = renderBootstrap(TEMPLATE, {
      xdsAddress: [options.xdsPort, ...(options.moreXdsPorts ?? [])].map((port) => ({ host: '127.0.0.1', port })),
      adminAddress: { host: '127.0.0.1', port: adminPort },
      statusAddress: { host: '127.0.0.1', port: statusPort },
      node: { id: options.nodeId, cluster: 'test', ...(options.zone === undefined ? {} : { zone: options.zone }) },
      ...(options.xdsTls ? { xdsTls: options.xdsTls } : {}),
    });
    mkdirSync(ENVOY_LOG_DIR, { recursive: true });
    const baseId = uniqueBaseId();
    const stem = path.join(ENVOY_LOG_DIR, `${options.nodeId.replace(/[^A-Za-z0-9._-]/g, '_')}-${baseId}`);
    const configFile = `${stem}.bootstrap.yaml`;
    const logFile = `${stem}.log`;
    writeFileSync(configFile, bootstrap);
    const log = openSync(logFile, 'w');
    const args = [
      '-c', configFile,
      '--concurrency', String(options.concurrency ?? 1),
      '--base-id', String(baseId),
      '--log-level', options.logLevel ?? 'info',
      '--log-format', '[%Y-%m-%d %T.%e][%l][%n] %v',
      ...(options.extraArgs ?? []),
    ];
    const child = spawn(options.binary.path, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    const envoy = new EnvoyProcess(options, child, adminPort, statusPort, logFile, bootstrap);
    try {
      await envoy.waitReady(options.readyTimeoutMs);
    } catch (error) {
      envoy.stop(true);
      throw error;
    }
    return envoy;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Waits for /ready to answer LIVE (first listeners and clusters applied). */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`Envoy ${this.binary.version} exited during start; log: ${this.logFile}\n${this.logTail()}`);
      try {
        const response = await fetch(`${this.adminUrl}/ready`, { signal: AbortSignal.timeout(1_000) });
        last = `${response.status} ${(await response.text()).trim()}`;
        if (response.status === 200) return;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`Envoy ${this.binary.version} not LIVE after ${timeoutMs} ms (last /ready: ${last}); log: ${this.logFile}\n${this.logTail()}`);
  }

  /** GET on the admin API, as text. */
  async admin(pathAndQuery: string): Promise<string> {
    const response = await fetch(`${this.adminUrl}${pathAndQuery}`, { signal: AbortSignal.timeout(5_000) });
    if (!response.ok) throw new Error(`Envoy admin ${pathAndQuery}: ${response.status}`);
    return response.text();
  }

  async adminJson<T = unknown>(pathAndQuery: string): Promise<T> {
    return JSON.parse(await this.admin(pathAndQuery)) as T;
  }

  /** The last lines of Envoy's log, for failure messages. */
  logTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  log(): string {
    return readFileSync(this.logFile, 'utf8');
  }

  /** SIGKILLs by PID. The log is kept when `keepLog` (a test failed), else removed with the bootstrap. */
  stop(keepLog = false): Promise<void> {
    if (this.running && this.#child.pid !== undefined) process.kill(this.#child.pid, 'SIGKILL');
    if (!keepLog) {
      rmSync(this.logFile, { force: true });
      rmSync(this.logFile.replace(/\.log$/, '.bootstrap.yaml'), { force: true });
    }
    return this.#exited;
  }
}
