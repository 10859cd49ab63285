/**
 * `infermesh serve` as its own process on a --config-dir folder of N models, the way an operator runs it:
 * time from spawn to /readyz 200, and the process's VmRSS (from /proc/PID/status; the process itself, not an
 * `npx` wrapper, which adds its own ~60-100 MB) when ready and after 2 s idle. Floor: the same on an empty folder.
 * Run alone: node_modules/.bin/node bench/serve-process.ts [10,1000,10000]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

const REPO = path.join(import.meta.dirname, '..');

export interface ServeFigures {
  models: number;
  files: number;
  readyMs: number;
  rssReadyMb: number;
  rssSettledMb: number;
  rssPeakMb: number;
}

/** One policy ConfigMap file and one file with the model's two EndpointSlices (5 pods each) per model. */
export function writeModelFolder(models: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'infermesh-bench-serve-'));
  for (let i = 0; i < models; i += 1) {
    writeFileSync(path.join(dir, `m${i}-policy.yaml`), `apiVersion: v1
kind: ConfigMap
metadata:
  name: m${i}-policy
  namespace: models
  labels: { infermesh.io/policy: "true" }
data:
  policy.yaml: |
    model: model-${i}
    server: triton
    backends:
      - { name: stable, service: m${i}-stable, port: grpc, version: "1", weight: 90 }
      - { name: canary, service: m${i}-canary, port: grpc, version: "2", weight: 10 }
    retries: { attempts: 2, perTryTimeout: 5s }
`);
    const slices = ['stable', 'canary'].map((backend) => {
      const endpoints = Array.from({ length: 5 }, (_, e) => `  - addresses: ["127.${(i >> 8) & 255}.${i & 255}.${(backend === 'stable' ? 10 : 110) + e}"]
    conditions: { ready: true }
    zone: zone-${e % 3}
`).join('');
      return `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: m${i}-${backend}-abc
  namespace: models
  labels: { kubernetes.io/service-name: m${i}-${backend} }
addressType: IPv4
ports: [{ name: grpc, port: 8001 }, { name: http, port: 8000 }]
endpoints:
${endpoints}`;
    });
    writeFileSync(path.join(dir, `m${i}-slices.yaml`), slices.join('---\n'));
  }
  return dir;
}

const rssMb = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
};
const peakMb = (pid: number): number => {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : NaN;
};

/** Starts serve on `dir`, waits for /readyz 200, reads RSS, idles 2 s, reads it again, kills by PID. */
export async function measureServe(dir: string, models: number, extraNodeArgs: string[] = [], timeoutMs = 120_000): Promise<ServeFigures> {
  const node = path.join(REPO, 'node_modules', '.bin', 'node');
  const args = [...extraNodeArgs, 'bin/infermesh.js', 'serve', '--config-dir', dir, '--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'];
  const started = performance.now();
  const child = spawn(node, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => output.push(line));
  try {
    const admin = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not log "infermesh serving" in ${timeoutMs} ms:\n${output.join('\n')}`)), timeoutMs);
      createInterface({ input: child.stdout }).on('line', (line) => {
        output.push(line);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          if (entry['msg'] === 'infermesh serving') {
            clearTimeout(timer);
            resolve(Number(String(entry['admin']).split(':').pop()));
          }
        } catch {
          // not a log entry
        }
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${output.join('\n')}`)));
    });
    const deadline = started + timeoutMs;
    for (;;) {
      const status = await fetch(`http://127.0.0.1:${admin}/readyz`).then((r) => r.status, () => 0);
      if (status === 200) break;
      if (performance.now() > deadline) throw new Error(`not ready in ${timeoutMs} ms:\n${output.slice(-20).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const readyMs = performance.now() - started;
    const pid = child.pid!;
    const rssReadyMb = rssMb(pid);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    return { models, files: models * 2, readyMs, rssReadyMb, rssSettledMb: rssMb(pid), rssPeakMb: peakMb(pid) };
  } finally {
    if (child.pid !== undefined && child.exitCode === null) {
      // With --cpu-prof the profile is written only on an orderly exit; give it 10 s, then SIGKILL.
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, extraNodeArgs.length > 0 ? 'SIGTERM' : 'SIGKILL');
      const timer = setTimeout(() => child.exitCode === null && process.kill(child.pid!, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  }
}

/** The floor (empty folder) and each N; folders are removed afterwards. */
export async function measureServeRows(counts: number[]): Promise<{ floor: ServeFigures; figures: ServeFigures[] }> {
  const empty = writeModelFolder(0);
  try {
    const floor = await measureServe(empty, 0);
    const figures: ServeFigures[] = [];
    for (const n of counts) {
      const dir = writeModelFolder(n);
      try {
        figures.push(await measureServe(dir, n));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    return { floor, figures };
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
}

if (import.meta.filename === process.argv[1]) {
  const counts = (process.argv[2] ?? '10,1000,10000').split(',').map(Number);
  const { floor, figures } = await measureServeRows(counts);
  for (const f of [floor, ...figures]) {
    console.log(`${String(f.models).padStart(6)} models: ready ${f.readyMs.toFixed(0)} ms, RSS ready ${f.rssReadyMb.toFixed(0)} MB, after 2 s idle ${f.rssSettledMb.toFixed(0)} MB, peak ${f.rssPeakMb.toFixed(0)} MB`);
  }
}
