/**
 * A real Prometheus as its own process, for the monitoring tests: loopback on a free port, its TSDB in a
 * temporary folder, scraping and evaluating rules every second, stopped by PID (folder removed).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { freePort } from './envoy-process.ts';

export interface ScrapeJob {
  job: string;
  /** host:port targets. */
  targets: string[];
  metricsPath: string;
}

/** One series of an instant vector. NaN and ±Inf arrive as strings, kept as numbers here. */
export interface PromSeries {
  metric: Record<string, string>;
  value: number;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data?: T;
  error?: string;
  errorType?: string;
}

export class PrometheusProcess {
  readonly url: string;
  readonly dir: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;

  private constructor(url: string, dir: string, child: ChildProcess) {
    this.url = url;
    this.dir = dir;
    this.#child = child;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(binary: string, jobs: readonly ScrapeJob[], ruleFiles: readonly string[]): Promise<PrometheusProcess> {
    const dir = mkdtempSync(path.join(tmpdir(), 'infermesh-prometheus-'));
    const port = await freePort();
    const config = {
      global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
      rule_files: [...ruleFiles],
      scrape_configs: jobs.map((job) => ({ job_name: job.job, metrics_path: job.metricsPath, static_configs: [{ targets: job.targets }] })),
    };
    const configFile = path.join(dir, 'prometheus.yml');
    writeFileSync(configFile, stringify(config));
    const log = openSync(path.join(dir, 'prometheus.log'), 'w');
    const child = spawn(binary, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { stdio: ['ignore', log, log] });
    closeSync(log);
    const prometheus = new PrometheusProcess(`http://127.0.0.1:${port}`, dir, child);
    try {
      await prometheus.waitReady();
    } catch (error) {
      await prometheus.stop(true);
      throw error;
    }
    return prometheus;
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  async waitReady(timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'no answer';
    while (Date.now() < deadline) {
      if (!this.running) throw new Error(`Prometheus exited during start:\n${this.logTail()}`);
      try {
        const response = await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1_000) });
        last = `${response.status}`;
        if (response.ok) return;
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`Prometheus not ready after ${timeoutMs} ms (last: ${last}):\n${this.logTail()}`);
  }

  /** GET on the HTTP API; throws with Prometheus's own error text when it refuses. */
  async api<T>(pathAndQuery: string): Promise<T> {
    const response = await fetch(`${this.url}${pathAndQuery}`, { signal: AbortSignal.timeout(5_000) });
    const answer = (await response.json()) as ApiAnswer<T>;
    if (answer.status !== 'success' || answer.data === undefined) throw new Error(`${pathAndQuery}: ${answer.errorType ?? response.status} ${answer.error ?? ''}`);
    return answer.data;
  }

  /** An instant query (/api/v1/query), as series with numeric values; a non-vector result throws. */
  async query(promql: string): Promise<PromSeries[]> {
    const data = await this.api<{ resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] }>(`/api/v1/query?query=${encodeURIComponent(promql)}`);
    if (data.resultType !== 'vector') throw new Error(`${promql}: a ${data.resultType}, not a vector`);
    return data.result.map((series) => ({ metric: series.metric, value: Number(series.value[1]) }));
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(path.join(this.dir, 'prometheus.log'), 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGKILLs by PID and removes the folder (kept with its log when `keepDir`). */
  async stop(keepDir = false): Promise<void> {
    if (this.running && this.#child.pid !== undefined) process.kill(this.#child.pid, 'SIGKILL');
    await this.#exited;
    if (!keepDir) rmSync(this.dir, { recursive: true, force: true });
  }
}
