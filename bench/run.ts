/**
 * npm run bench — figures, not assertions. The server as in production (controller with debounce, snapshot
 * store, ADS server) against N simulated ADS clients in a child process, and the floor: a bare grpc-js
 * server writing the same bytes to the same streams (bench/network.ts). Prints a table and writes
 * bench-results/bench.json.
 *
 *   BENCH_CLIENTS (default 1000: simulated sidecars, then as many proxyless clients)   BENCH_MODELS (default
 *   1000,10000)   BENCH_NETWORK_MODELS (default 1000: models served in the network rows)
 *   BENCH_CHURN_SECONDS (default 60; 0 skips the policy-churn memory row)
 *   BENCH_STALLED (default 1; 0 leaves out the push latency with 10% of the sidecars stalled, bench/stalled.ts;
 *   BENCH_STALLED_PAIRS, default 2, runs of each kind)
 *   BENCH_DATA_PLANE (default 1; 0 leaves out the requests through a real Envoy sidecar, bench/data-plane.ts,
 *   which needs Envoy from scripts/envoy.sh and wrk; its own variables are described there)
 *   BENCH_SERVE (default 1; 0 leaves out `infermesh serve` as its own process on a folder of 10/1,000/10,000 models,
 *   bench/serve-process.ts: ready time and RSS; BENCH_SERVE_MODELS overrides the counts)
 *   BENCH_ENVOY_LIKE (default 1; 0 leaves out the Envoy-like SotW initial sync against `infermesh serve` and the floor,
 *   bench/envoy-like-sync.ts: BENCH_CLIENTS grpc-go clients, BENCH_NETWORK_MODELS models; needs Go)
 *   BENCH_PROBE (default 1; 0 leaves out the model-readiness probe cost, bench/probe-cost.ts: 1,000 models on 50
 *   Triton and 50 TF Serving fake pods, probes per interval and prober CPU against bare HTTP; its own variables there)
 *   BENCH_BODY_ROUTING (default 1; 0 leaves out what routing by the JSON body costs per request through a real Envoy,
 *   bench/body-routing.ts: header-routed without the body filters (the floor), with them, and body-routed, 1 and 64 KB)
 *   BENCH_ONLY=build runs only the build rows (build, one-model change, heap, PGV, bytes) for BENCH_MODELS
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../src/envoy/protos.ts';
import type { ResourceKind } from '../src/envoy/type-urls.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { assembleSnapshot } from '../src/snapshot/assemble.ts';
import { ResourceCodec } from '../src/snapshot/codec.ts';
import type { ChurnFigures } from './churn.ts';
import type { DataPlaneResult } from './data-plane.ts';
import { bodyRoutingRows, type BodyRoutingResult } from './body-routing.ts';
import { measureHealthz } from './healthz.ts';
import { measureServeRows } from './serve-process.ts';
import { measureValidation } from './pgv.ts';
import { measureNetwork } from './network.ts';
import { measureStalledRows } from './stalled.ts';
import { envoyLikeRows, measureEnvoyLikeSync } from './envoy-like-sync.ts';
import { measurePolicyParse } from './policy-parse.ts';
import { probeCostRows, PROBE_COST_SCRIPT, type ProbeCostFigures } from './probe-cost.ts';
import { modelPolicy, syntheticWorld } from './world.ts';

const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 1000);
const MODEL_COUNTS = (process.env['BENCH_MODELS'] ?? '1000,10000').split(',').map(Number);
const NETWORK_MODELS = Number(process.env['BENCH_NETWORK_MODELS'] ?? 1000);
const CHURN_SECONDS = Number(process.env['BENCH_CHURN_SECONDS'] ?? 60);
const STALLED = process.env['BENCH_STALLED'] !== '0';
const DATA_PLANE = process.env['BENCH_DATA_PLANE'] !== '0';
const ONLY_BUILD = process.env['BENCH_ONLY'] === 'build';
const SERVE = process.env['BENCH_SERVE'] !== '0';
const ENVOY_LIKE = process.env['BENCH_ENVOY_LIKE'] !== '0';
const PROBE = process.env['BENCH_PROBE'] !== '0';
const BODY_ROUTING = process.env['BENCH_BODY_ROUTING'] !== '0';
const SERVE_MODELS = (process.env['BENCH_SERVE_MODELS'] ?? '10,1000,10000').split(',').map(Number);
const root = loadEnvoyProtos();
const results: Record<string, unknown> = { clients: CLIENTS, networkModels: NETWORK_MODELS, node: process.version, date: new Date().toISOString() };
const rows: string[][] = [];

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const fmt = (n: number, unit = 'ms') => (Number.isFinite(n) ? `${n >= 100 ? n.toFixed(0) : n.toFixed(1)} ${unit}` : 'n/a');
const ratio = (value: number, floor: number) => (Number.isFinite(value) && floor > 0 ? `${(value / floor).toFixed(1)}x` : '-');

/** Build + validate + encode the whole mesh from scratch, then a one-model change on top of it. */
function measureBuild(models: number): void {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const codec = new ResourceCodec(root);
  const world = syntheticWorld(models);
  let started = performance.now();
  const first = reconcileWorld(world, EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
  const assembled = assembleSnapshot(first.encoded, DEFAULT_SETTINGS, codec, 1);
  const full = performance.now() - started;
  codec.endGeneration();
  // What a serving process holds after the build: the codec's caches, the snapshot and the controller's last good.
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  world.configMaps[0] = modelPolicy(0, 50);
  started = performance.now();
  const second = reconcileWorld(world, first.lastGood, codec, DEFAULT_SETTINGS);
  assembleSnapshot(second.encoded, DEFAULT_SETTINGS, codec, 2);
  const incremental = performance.now() - started;
  const bytes = (kind: ResourceKind) => (assembled.ok ? [...assembled.snapshot.resources(kind).values()].reduce((sum, r) => sum + r.any.length, 0) : 0);
  results[`build_${models}`] = { fullMs: full, oneModelChangeMs: incremental, heapAfterMb: heapAfter / 1e6, heapBeforeMb: heapBefore / 1e6, bytes: { cds: bytes('cluster'), eds: bytes('endpoint'), rds: bytes('route'), lds: bytes('listener'), srds: bytes('scopedRoute') } };
  rows.push([`build+validate+encode, ${models} models`, fmt(full), '-', '-', 'target <= 1 s at 10k']);
  rows.push([`rebuild after one-model change, ${models} models`, fmt(incremental), '-', '-', 'target <= 20 ms at 10k']);
  rows.push([`heap after building ${models} models`, `${(heapAfter / 1e6).toFixed(0)} MB`, '-', '-', `${(heapBefore / 1e6).toFixed(0)} MB before (protos loaded); target <= 150 MB at 10k`]);
  if (assembled.ok) {
    const validation = measureValidation(root, assembled.snapshot);
    results[`pgv_${models}`] = validation;
    const each = (us: number) => (us >= 1000 ? fmt(us / 1000) : fmt(us, 'us'));
    const perKind = validation.map(({ kind, resources, usPerResource }) => `${kind} ${each(usPerResource)} x${resources}`).join(', ');
    rows.push([`PGV validate alone (plans warm), ${models} models`, fmt(validation.reduce((sum, v) => sum + (v.usPerResource * v.resources) / 1000, 0)), '-', '-', perKind]);
  }
  const grpcTable = assembled.ok ? (assembled.snapshot.resources('route').get(DEFAULT_SETTINGS.grpcTarget)?.any.length ?? 0) : 0;
  rows.push([`every resource served, ${models} models`, `${((bytes('cluster') + bytes('endpoint') + bytes('route') + bytes('listener') + bytes('scopedRoute')) / 1e6).toFixed(1)} MB`, '-', '-', `no proxy gets all of it; the xds:///${DEFAULT_SETTINGS.grpcTarget} table alone ${(grpcTable / 1e6).toFixed(1)} MB, the per-model tables ${((bytes('route') - grpcTable) / 1e6).toFixed(1)} MB, the scopes ${(bytes('scopedRoute') / 1e6).toFixed(1)} MB`]);
}

/** One policy's weights rewritten every 200 ms with a client connected; in its own process, so its RSS is not the high-water mark of the rows before. */
async function measureChurn(): Promise<void> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', path.join(import.meta.dirname, 'churn.ts'), String(CHURN_SECONDS), String(NETWORK_MODELS)]);
  const churn = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ChurnFigures;
  results['churn'] = churn;
  rows.push([`RSS after ${churn.seconds} s churn with a client, ${churn.models} models`, `${churn.rssAfterMb} MB`, '-', '-', `from ${churn.rssBeforeMb} MB, peak ${churn.rssPeakMb} MB; ${churn.alive} of ${churn.published} snapshots alive after GC`]);
}

/**
 * Requests through one real Envoy sidecar beside the same load straight to the pod, at several model counts;
 * in a process of its own (bench/data-plane.ts), its progress on stderr as it goes.
 */
async function measureDataPlaneRows(): Promise<void> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'data-plane.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = out.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !last.startsWith('{')) {
    console.log(`data plane: failed (exit ${code}); see its output above`);
    rows.push(['data plane through an Envoy sidecar', 'failed', '-', '-', `bench/data-plane.ts exited ${code}`]);
    return;
  }
  const result = JSON.parse(last) as DataPlaneResult;
  if ('skipped' in result) {
    console.log(`data plane: not measured: ${result.skipped} (BENCH_DATA_PLANE=0 leaves it out)`);
    rows.push(['data plane through an Envoy sidecar', 'not run', '-', '-', 'no Envoy or wrk: bash scripts/envoy.sh; apt-get install wrk']);
    return;
  }
  results['dataPlane'] = result;
  const ms = (n: number) => `${n.toFixed(2)} ms`;
  for (const f of result.figures) {
    const via = `Envoy ${f.envoy} sidecar, ${f.models} models`;
    rows.push([`requests/s through one ${via}`, `${f.sidecar.rps.toFixed(0)}/s`, `${f.direct.rps.toFixed(0)}/s`, ratio(f.sidecar.rps, f.direct.rps), `floor: straight to the pod; wrk HTTP/1.1, ${result.connections} conns, ${result.seconds} s`]);
    rows.push([`p50 latency through one ${via}`, ms(f.sidecar.p50Ms), ms(f.direct.p50Ms), ratio(f.sidecar.p50Ms, f.direct.p50Ms), '']);
    rows.push([`p99 latency through one ${via}`, ms(f.sidecar.p99Ms), ms(f.direct.p99Ms), ratio(f.sidecar.p99Ms, f.direct.p99Ms), `errors: ${f.sidecar.errors} via sidecar, ${f.direct.errors} direct`]);
    rows.push([`Envoy CPU per request through one ${via}`, `${f.envoyCpuPerRequestUs.toFixed(0)} us`, '-', '-', `user + system time over the run, less ${f.envoyIdleCpuPercent.toFixed(1)}% of a core it uses idle, / requests`]);
    rows.push([`Envoy RSS, ${f.models} models served`, `${f.envoyRssAfterLoadMb.toFixed(0)} MB`, '-', '-', `after the load; ${f.envoyClusters} clusters loaded (on demand); routable ${(f.configuredMs / 1000).toFixed(1)} s after start`]);
    const floorRss = result.figures[0]?.envoyRssFiveCalledMb ?? NaN;
    rows.push([`Envoy RSS after calling 5 models, ${f.models} served`, `${f.envoyRssFiveCalledMb.toFixed(0)} MB`, `${floorRss.toFixed(0)} MB`, ratio(f.envoyRssFiveCalledMb, floorRss), `floor: ${result.figures[0]?.models} models served; target <= 1.5x`]);
    const first = f.firstRequest;
    rows.push([`first request for a model not loaded yet, ${f.models} served, p50 / p99`, `${ms(first.p50Ms)} / ${ms(first.p99Ms)}`, `${ms(first.loadedP50Ms)} / ${ms(first.loadedP99Ms)}`, ratio(first.p50Ms, first.loadedP50Ms), `floor: its second request; ${first.models} models, one at a time`]);
  }
}

/** Body routing's cost per request, in a process of its own (bench/body-routing.ts), its progress on stderr. */
async function measureBodyRoutingRows(): Promise<void> {
  const child = spawn(process.execPath, [path.join(import.meta.dirname, 'body-routing.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const last = out.trim().split('\n').at(-1) ?? '';
  if (code !== 0 || !last.startsWith('{')) {
    rows.push(['body routing through an Envoy sidecar', 'failed', '-', '-', `bench/body-routing.ts exited ${code}`]);
    return;
  }
  const result = JSON.parse(last) as BodyRoutingResult;
  results['bodyRouting'] = result;
  rows.push(...bodyRoutingRows(result));
}

/** The prober's cost in a process of its own (its CPU is the process's), the fake pods in another. */
async function measureProbeRows(): Promise<void> {
  const { stdout } = await promisify(execFile)(process.execPath, [PROBE_COST_SCRIPT], { maxBuffer: 1 << 20 });
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as ProbeCostFigures;
  results['probeCost'] = result;
  rows.push(...probeCostRows(result));
}

/** /healthz round trips while the largest mesh reconciles in the server's slices. */
async function measureHealthzRows(models: number): Promise<void> {
  const figures = await measureHealthz(models, new ResourceCodec(root));
  results[`healthz_${models}`] = figures;
  rows.push([`/healthz worst while ${models} models build`, fmt(figures.fullBuildWorstMs), fmt(figures.idleWorstMs), ratio(figures.fullBuildWorstMs, figures.idleWorstMs), `floor: idle; ${figures.probes} probes; target <= 100 ms`]);
  rows.push([`/healthz worst while one of ${models} models rebuilds`, fmt(figures.oneChangeWorstMs), fmt(figures.idleWorstMs), ratio(figures.oneChangeWorstMs, figures.idleWorstMs), 'target <= 100 ms']);
}

for (const models of MODEL_COUNTS) measureBuild(models);
{
  const parse = measurePolicyParse(Math.max(...MODEL_COUNTS));
  results['policyParse'] = parse;
  rows.push([`policy ConfigMap parse + validate + defaults, each`, fmt(parse.fastUs, 'us'), '-', '-', `${fmt(parse.fullReaderUs, 'us')} through the full yaml reader (every policy before); invalid, read twice: ${fmt(parse.invalidUs, 'us')}`]);
}
if (!ONLY_BUILD && SERVE) {
  const { floor, figures } = await measureServeRows(SERVE_MODELS);
  results['serveProcess'] = { floor, figures };
  const targets: Record<number, string> = { 10: '150 MB', 1000: '250 MB', 10000: '500 MB' };
  for (const f of figures) {
    rows.push([`serve process: spawn -> /readyz 200, ${f.models} models`, fmt(f.readyMs), fmt(floor.readyMs), ratio(f.readyMs, floor.readyMs), `floor: serve on an empty folder; ${f.files} files${f.models === 10000 ? '; target <= 5 s' : ''}`]);
    rows.push([`serve process RSS after 2 s idle, ${f.models} models`, `${f.rssSettledMb.toFixed(0)} MB`, `${floor.rssSettledMb.toFixed(0)} MB`, ratio(f.rssSettledMb, floor.rssSettledMb), `VmRSS of the node process, no npx wrapper; ${f.rssReadyMb.toFixed(0)} MB at ready, peak ${f.rssPeakMb.toFixed(0)} MB${targets[f.models] ? `; target <= ${targets[f.models]}` : ''}`]);
  }
} else if (!SERVE) console.log('serve process: left out (BENCH_SERVE=0)');
if (!ONLY_BUILD) {
  await measureHealthzRows(Math.max(...MODEL_COUNTS));
  const network = await measureNetwork(root, CLIENTS, NETWORK_MODELS);
  results['network'] = network.results;
  rows.push(...network.rows);
  if (ENVOY_LIKE) {
    const envoyLike = await measureEnvoyLikeSync(CLIENTS, NETWORK_MODELS);
    results['envoyLike'] = envoyLike;
    rows.push(...envoyLikeRows(envoyLike));
  } else console.log('Envoy-like SotW sync: left out (BENCH_ENVOY_LIKE=0)');
  if (STALLED) {
    const stalled = await measureStalledRows(CLIENTS, NETWORK_MODELS, Number(process.env['BENCH_STALLED_PAIRS'] ?? 2));
    results['stalled'] = stalled.results;
    rows.push(...stalled.rows);
  }
  if (CHURN_SECONDS > 0) await measureChurn();
  if (PROBE) await measureProbeRows();
  else console.log('probe cost: left out (BENCH_PROBE=0)');
  if (DATA_PLANE) await measureDataPlaneRows();
  else console.log('data plane: left out (BENCH_DATA_PLANE=0)');
  if (BODY_ROUTING) await measureBodyRoutingRows();
  else console.log('body routing: left out (BENCH_BODY_ROUTING=0)');
}
const widths = [0, 1, 2, 3, 4].map((c) => Math.max(...[['figure', 'infermesh', 'floor', 'ratio', 'note'], ...rows].map((r) => (r[c] ?? '').length)));
for (const [i, row] of [['figure', 'infermesh', 'floor', 'ratio', 'note'], ...rows].entries()) {
  console.log(row.map((cell, c) => (c === 0 || c === 4 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  '));
  if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
}
mkdirSync('bench-results', { recursive: true });
writeFileSync('bench-results/bench.json', `${JSON.stringify(results, null, 2)}\n`);
console.log('\nwritten: bench-results/bench.json');
process.exit(0);
