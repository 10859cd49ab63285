/**
 * The data-plane figure of `npm run bench`: requests per second and p50/p99 latency through one real Envoy
 * sidecar to a fake Triton pod, with 5, 1,000 and 10,000 models served (a scope is one hash lookup, so the
 * figures should not move with the model count), each beside the floor: the same load sent straight to the
 * pod in the same run. Also Envoy's RSS after calling 5 models at each model count (the sidecar loads what it
 * calls, so it should not grow with the models served; 5 models served is its floor), and the answer time of
 * a model's first request (its table and clusters loaded on demand) against its second.
 *
 * Load: wrk (Debian package `wrk`), REST over HTTP/1.1 keep-alive, closed loop (each connection sends its next
 * request when the answer arrives): POST /v2/models/model-<last>/infer with x-model, so a linear route list
 * would have to test every other model's routes first. The policies are `protocol: http`, `port: http`.
 * Every model has one backend with one endpoint on 127.0.0.141-159 (nothing listens there; Envoy opens
 * no connection to a cluster no request goes to); the measured model's endpoint, and those of the models
 * the first-request figures call, is the pod on 127.0.0.140.
 *
 *   BENCH_DATA_PLANE_MODELS (default 5,1000,10000; the first is the floor of the RSS with 5 models called)   BENCH_DATA_PLANE_SECONDS (default 10)
 *   BENCH_DATA_PLANE_CONNECTIONS (default 16)   BENCH_WRK (default wrk, from PATH)
 *
 * Alone: `npx node bench/data-plane.ts`. Progress goes to stderr; the last stdout line is the JSON figures,
 * or {"skipped": reason} when Envoy or wrk is missing.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeModelServer, type FakeModelServer } from '../demo/fake-model-server.ts';
import { anyEnvoy, type EnvoyBinary } from '../scripts/envoy-lookup.ts';
import { Controller } from '../src/controller/controller.ts';
import { loadEnvoyProtos } from '../src/envoy/protos.ts';
import { silentLogger } from '../src/logging/logger.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS, type MeshSettings } from '../src/model/types.ts';
import { ResourceCodec } from '../src/snapshot/codec.ts';
import type { ConfigMapObject, EndpointSliceObject, SourceWorld } from '../src/sources/types.ts';
import { XdsServer } from '../src/xds/server.ts';
import { SnapshotStore } from '../src/xds/snapshot-store.ts';
import { EnvoyProcess, freePort } from '../test/support/envoy-process.ts';
import { MemorySource } from './memory-source.ts';
import { runWrk, wrkProblem, type LoadFigures } from './wrk.ts';

const MODEL_COUNTS = (process.env['BENCH_DATA_PLANE_MODELS'] ?? '5,1000,10000').split(',').map(Number);
const SECONDS = Number(process.env['BENCH_DATA_PLANE_SECONDS'] ?? 10);
const CONNECTIONS = Number(process.env['BENCH_DATA_PLANE_CONNECTIONS'] ?? 16);
/** How long Envoy's CPU use is read with no traffic, before the run through it. */
const IDLE_MS = 10_000;
const POD_HOST = '127.0.0.140';
/** Models the first-request figures call, besides the measured one (all never called before). */
const FIRST_REQUEST_MODELS = 20;

export type { LoadFigures } from './wrk.ts';

export interface DataPlaneFigures {
  models: number;
  envoy: string;
  sidecar: LoadFigures;
  direct: LoadFigures;
  envoyRssAfterConfigMb: number;
  envoyRssAfterLoadMb: number;
  /**
   * Envoy's user + system CPU time over the sidecar run, less what it spends idle in as long, per request:
   * steadier than req/s on a shared machine.
   */
  envoyCpuPerRequestUs: number;
  /** Envoy's CPU use with no traffic (stats flushes and timers over every cluster), in % of one core. */
  envoyIdleCpuPercent: number;
  /** cluster_manager.active_clusters: the models' clusters and the bootstrap's static ones. */
  envoyClusters: number;
  /** Time from Envoy's start to the measured model answering through it. */
  configuredMs: number;
  /** Envoy's RSS once it has called 5 models (it loads their tables and clusters on demand, nothing else). */
  envoyRssFiveCalledMb: number;
  /** Answer time of a model's first request (its table and clusters loaded on demand), and of its second. */
  firstRequest: { p50Ms: number; p99Ms: number; loadedP50Ms: number; loadedP99Ms: number; models: number };
}

export type DataPlaneResult = { skipped: string } | { load: string; seconds: number; connections: number; figures: DataPlaneFigures[] };

/** Every process started here (Envoy, wrk), killed by PID when this process exits, however it exits. */
const running = new Set<{ kill(): void }>();
process.once('exit', () => {
  for (const child of running) child.kill();
});

const log = (line: string) => process.stderr.write(`data plane: ${line}\n`);

function world(models: number, pod: FakeModelServer): SourceWorld {
  const configMaps: ConfigMapObject[] = [];
  const endpointSlices: EndpointSliceObject[] = [];
  for (let i = 0; i < models; i += 1) {
    configMaps.push({
      namespace: 'models',
      name: `m${i}-policy`,
      labels: { 'infermesh.io/policy': 'true' },
      creationTimestamp: '2026-01-01T00:00:00Z',
      origin: 'bench',
      data: {
        'policy.yaml': `model: model-${i}\nserver: triton\nprotocol: http\nbackends:\n  - { name: main, service: m${i}, port: http, version: "1" }\nretries: { attempts: 2, perTryTimeout: 5s }\n`,
      },
    });
    endpointSlices.push({
      namespace: 'models',
      name: `m${i}-abc`,
      serviceName: `m${i}`,
      addressType: 'IPv4',
      ports: [{ name: 'http', port: pod.httpPort }, { name: 'grpc', port: pod.grpcPort }],
      endpoints: [{ addresses: [i === models - 1 || i < FIRST_REQUEST_MODELS ? POD_HOST : `127.0.0.${141 + (i % 19)}`], ready: true, serving: true, terminating: false }],
      origin: 'bench',
    });
  }
  return { configMaps, endpointSlices, readErrors: [] };
}

/** A control plane as in production (controller, snapshot store, ADS server) over an in-memory world. */
export async function startControlPlane(source: SourceWorld, settings: MeshSettings, id: string, firstSnapshotWithinMs: number): Promise<{ xdsPort: number; close(): Promise<void> }> {
  const root = loadEnvoyProtos();
  const store = new SnapshotStore();
  const metrics = createMetrics();
  const controller = new Controller({ source: new MemorySource(source), store, codec: new ResourceCodec(root), settings, logger: silentLogger(), metrics });
  const server = new XdsServer({ root, snapshots: store, logger: silentLogger(), metrics, controlPlaneId: id });
  const xdsPort = await server.listen('127.0.0.1:0');
  await controller.start();
  for (let waited = 0; store.current() === undefined; waited += 50) {
    if (waited > firstSnapshotWithinMs) throw new Error(`no snapshot after ${firstSnapshotWithinMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    xdsPort,
    async close() {
      controller.stop();
      await server.close(1_000);
    },
  };
}

/** User + system CPU time of a process so far, in microseconds (clock ticks of 10 ms, Linux's USER_HZ). */
export function cpuUs(pid: number | undefined): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function rssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

const WRK_SCRIPT = `
wrk.method = "POST"
wrk.body = '{"id":"bench","inputs":[]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-model"] = os.getenv("BENCH_MODEL")
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"durationUs":%d,"p50Us":%d,"p99Us":%d,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
`;

function runLoad(script: string, url: string, model: string, seconds: number): Promise<LoadFigures> {
  return runWrk({ script, url, seconds, connections: CONNECTIONS, env: { BENCH_MODEL: model }, running });
}

const percentileOf = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1)] ?? NaN;

/** Time until one request's answer (the first-request models are served by the pod too). */
async function answerMs(url: string, model: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { method: 'POST', headers: { 'x-model': model, 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(10_000) });
  await response.arrayBuffer();
  return performance.now() - started;
}

/**
 * Calls `count` models never called before, one at a time, twice each: the first answer waits for the
 * model's table and clusters (one xDS round trip each), the second finds them loaded. `afterFour` runs once
 * four have been called (with the measured model, five).
 */
async function firstRequests(sidecarBase: string, models: number, count: number, afterFour: () => void): Promise<DataPlaneFigures['firstRequest']> {
  const first: number[] = [];
  const loaded: number[] = [];
  const names = Array.from({ length: Math.min(count, models - 1) }, (_, i) => `model-${i}`);
  for (const [i, model] of names.entries()) {
    const url = `${sidecarBase}/v2/models/${model}/infer`;
    first.push(await answerMs(url, model));
    loaded.push(await answerMs(url, model));
    if (i === 3) afterFour();
  }
  return { p50Ms: percentileOf(first, 50), p99Ms: percentileOf(first, 99), loadedP50Ms: percentileOf(loaded, 50), loadedP99Ms: percentileOf(loaded, 99), models: names.length };
}

/** Polls until the measured model answers 200 through the sidecar. */
async function waitRoutable(url: string, model: string, envoy: EnvoyProcess, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { method: 'POST', headers: { 'x-model': model, 'content-type': 'application/json' }, body: '{}', signal: AbortSignal.timeout(2_000) });
      last = `${response.status} ${(await response.text()).slice(0, 200)}`;
      if (response.status === 200) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`model ${model} not routable through the sidecar after ${timeoutMs} ms (last: ${last})\n${envoy.logTail()}`);
}

async function measure(models: number, binary: EnvoyBinary, pod: FakeModelServer, script: string): Promise<DataPlaneFigures> {
  const settings: MeshSettings = { ...DEFAULT_SETTINGS, sidecarListenerAddress: '127.0.0.1', sidecarListenerPort: await freePort() };
  const model = `model-${models - 1}`;
  const requestPath = `/v2/models/${model}/infer`;
  log(`${models} models: building the control plane's snapshot`);
  const controlPlane = await startControlPlane(world(models, pod), settings, 'bench-data-plane', 120_000);
  let envoy: EnvoyProcess | undefined;
  let handle: { kill(): void } | undefined;
  let failed = true;
  try {
    const startedAt = Date.now();
    // /ready says LIVE once Envoy applied the first clusters; at 10,000 models that takes minutes, not seconds.
    envoy = await EnvoyProcess.start({ binary, xdsPort: controlPlane.xdsPort, nodeId: `bench-data-plane-${models}`, logLevel: 'warn', readyTimeoutMs: 300_000 });
    const started = envoy;
    handle = { kill: () => void started.stop(true) };
    running.add(handle);
    const sidecarUrl = `http://127.0.0.1:${settings.sidecarListenerPort}${requestPath}`;
    const directUrl = `http://${pod.httpAddress()}${requestPath}`;
    await waitRoutable(sidecarUrl, model, envoy);
    const configuredMs = Date.now() - startedAt;
    const envoyRssAfterConfigMb = rssMb(envoy.pid);
    log(`${models} models: Envoy ${binary.version} routes ${model} after ${configuredMs} ms, RSS ${envoyRssAfterConfigMb.toFixed(1)} MB; first requests`);
    let envoyRssFiveCalledMb = NaN;
    const calling = envoy;
    const firstRequest = await firstRequests(`http://127.0.0.1:${settings.sidecarListenerPort}`, models, FIRST_REQUEST_MODELS, () => (envoyRssFiveCalledMb = rssMb(calling.pid)));
    log(`${models} models: first request p50 ${firstRequest.p50Ms.toFixed(1)} ms p99 ${firstRequest.p99Ms.toFixed(1)} ms, loaded p50 ${firstRequest.loadedP50Ms.toFixed(1)} ms; RSS with 5 models called ${envoyRssFiveCalledMb.toFixed(1)} MB; warming up`);
    await runLoad(script, directUrl, model, 2);
    await runLoad(script, sidecarUrl, model, 2);
    log(`${models} models: ${SECONDS} s straight to the pod, then ${SECONDS} s through the sidecar (${CONNECTIONS} connections)`);
    const direct = await runLoad(script, directUrl, model, SECONDS);
    const idleStart = cpuUs(envoy.pid);
    await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
    const idleUsPerMs = (cpuUs(envoy.pid) - idleStart) / IDLE_MS;
    const cpuBefore = cpuUs(envoy.pid);
    const sidecar = await runLoad(script, sidecarUrl, model, SECONDS);
    const envoyCpuPerRequestUs = (cpuUs(envoy.pid) - cpuBefore - idleUsPerMs * SECONDS * 1000) / sidecar.requests;
    const envoyIdleCpuPercent = idleUsPerMs / 10;
    const envoyRssAfterLoadMb = rssMb(envoy.pid);
    const envoyClusters = Number(/active_clusters: (\d+)/.exec(await envoy.admin('/stats?filter=^cluster_manager\\.active_clusters$'))?.[1] ?? NaN);
    log(`${models} models: sidecar ${sidecar.rps.toFixed(0)} req/s p50 ${sidecar.p50Ms.toFixed(2)} ms p99 ${sidecar.p99Ms.toFixed(2)} ms; direct ${direct.rps.toFixed(0)} req/s p50 ${direct.p50Ms.toFixed(2)} ms p99 ${direct.p99Ms.toFixed(2)} ms; Envoy CPU ${envoyCpuPerRequestUs.toFixed(0)} µs per request, ${envoyIdleCpuPercent.toFixed(1)}% idle; ${envoyClusters} clusters in Envoy`);
    failed = false;
    return { models, envoy: binary.version, sidecar, direct, envoyRssAfterConfigMb, envoyRssAfterLoadMb, envoyCpuPerRequestUs, envoyIdleCpuPercent, envoyClusters, configuredMs, envoyRssFiveCalledMb, firstRequest };
  } finally {
    if (failed && envoy) log(`Envoy log kept: ${envoy.logFile}`);
    if (handle) running.delete(handle);
    await envoy?.stop(failed);
    await controlPlane.close();
  }
}

export async function measureDataPlane(): Promise<DataPlaneResult> {
  const envoy = anyEnvoy();
  if (!envoy.found) return { skipped: envoy.problem };
  const noWrk = wrkProblem();
  if (noWrk) return { skipped: noWrk };
  const dir = mkdtempSync(path.join(tmpdir(), 'infermesh-bench-wrk-'));
  const script = path.join(dir, 'infer.lua');
  writeFileSync(script, WRK_SCRIPT);
  const pod = await startFakeModelServer({ kind: 'triton', host: POD_HOST, pod: 'bench-pod-0', models: [...MODEL_COUNTS.map((n) => `model-${n - 1}`), ...Array.from({ length: FIRST_REQUEST_MODELS }, (_, i) => `model-${i}`)], version: '1' });
  const figures: DataPlaneFigures[] = [];
  try {
    for (const models of MODEL_COUNTS) figures.push(await measure(models, envoy.value, pod, script));
  } finally {
    await pod.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return { load: 'wrk, REST over HTTP/1.1 keep-alive, closed loop, 1 thread', seconds: SECONDS, connections: CONNECTIONS, figures };
}

if (import.meta.main) {
  const stopOnSignal = () => process.exit(130);
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const result = await measureDataPlane();
  console.log(JSON.stringify(result));
  process.exit(0);
}
