/**
 * One wrk run over loopback for the benches that load a real Envoy (data-plane.ts, body-routing.ts): the
 * bench's Lua script prints its figures as a `WRK_JSON {...}` line, read here. Every child is registered in
 * `running` while it runs, so the bench can kill it by PID when it is stopped.
 */
import { spawn, spawnSync } from 'node:child_process';

const WRK = process.env['BENCH_WRK'] ?? 'wrk';

export interface LoadFigures {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Connect, read, write, timeout errors and non-2xx answers, as wrk counts them. */
  errors: number;
}

export interface WrkRun {
  script: string;
  url: string;
  seconds: number;
  connections: number;
  /** Passed to the script (it reads them with os.getenv). */
  env: Record<string, string>;
  running: Set<{ kill(): void }>;
}

export function runWrk({ script, url, seconds, connections, env, running }: WrkRun): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn(WRK, ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '5s', '-s', script, url], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const handle = { kill: () => child.pid !== undefined && child.exitCode === null && process.kill(child.pid, 'SIGKILL') };
    running.add(handle);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      running.delete(handle);
      const line = out.split('\n').find((l) => l.startsWith('WRK_JSON '));
      if (code !== 0 || line === undefined) return reject(new Error(`wrk exited ${code}: ${out.trim()}`));
      const r = JSON.parse(line.slice('WRK_JSON '.length)) as { requests: number; durationUs: number; p50Us: number; p99Us: number; errors: number };
      resolve({ requests: r.requests, rps: r.requests / (r.durationUs / 1e6), p50Ms: r.p50Us / 1000, p99Ms: r.p99Us / 1000, errors: r.errors });
    });
  });
}

/** Why wrk cannot run here (how to install it), or undefined when it can. */
export function wrkProblem(): string | undefined {
  const probe = spawnSync(WRK, ['-v'], { encoding: 'utf8' });
  return probe.error ? `${WRK} not found (${probe.error.message}): install it with \`apt-get install -y wrk\` (scripts/tools.sh does)` : undefined;
}
