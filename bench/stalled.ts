/**
 * Push latency to the sidecars that read, with 10% of the sidecars stalled, beside the same run with none
 * (issue 13). The server as in production (controller with debounce, snapshot store, ADS server) and the
 * simulated sidecars of bench/ads-clients.ts; in the stalled run, 10% of them stop reading (grpc-js stops
 * reading their HTTP/2 streams, whose windows close): half call the changed model, half do not. Churn on
 * the models the stalled sidecars call first fills their windows, so the server's writes to them block; then
 * model-0's weights change a few times and the time until every fast sidecar calling it ACKed is measured.
 * Each run is its own process, so their RSS compare. BENCH_STALLED_ROUNDS (default 25) sets the snapshots of
 * churn. Part of `npm run bench`;
 * alone: node --expose-gc bench/stalled.ts [clients] [models] [stalled 0|1]
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Controller } from '../src/controller/controller.ts';
import { loadEnvoyProtos } from '../src/envoy/protos.ts';
import { TYPE_URLS } from '../src/envoy/type-urls.ts';
import { silentLogger } from '../src/logging/logger.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { ResourceCodec } from '../src/snapshot/codec.ts';
import { XdsServer } from '../src/xds/server.ts';
import { SnapshotStore } from '../src/xds/snapshot-store.ts';
import { modelsCalledBy } from './called-models.ts';
import { Clients } from './clients.ts';
import { MemorySource } from './memory-source.ts';
import { modelPolicy, syntheticWorld } from './world.ts';

export interface StalledFigures {
  clients: number;
  models: number;
  stalled: number;
  /** Sidecars that call the changed model and never stall (in either run): the ones measured. */
  fast: number;
  changes: number;
  acked: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Each change's own p99 (its slowest fast sidecars), in order: one slow change on a shared machine shows here. */
  perChangeP99Ms: number[];
  latenciesMs: number[];
  churnSnapshots: number;
  rssConnectedMb: number;
  rssAfterChurnMb: number;
  rssAfterMb: number;
}

/** 10% stalled: ids 0 mod 20 call model-0 (every tenth sidecar does, bench/called-models.ts), ids 5 mod 20 do not. */
const STALL = { every: 20, offsets: [0, 5] };
const isFast = (id: number) => id % 20 === 10;
const CHURN_ROUNDS = Number(process.env['BENCH_STALLED_ROUNDS'] ?? 25);
const CHANGES = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.max(0, Math.ceil((p / 100) * values.length) - 1)] ?? NaN;
type Report = { lastAck: Record<string, number> }[];

export async function measureStalledRun(count: number, models: number, stall: boolean): Promise<StalledFigures> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const rss = () => {
    gc();
    return mb(process.memoryUsage().rss);
  };
  const root = loadEnvoyProtos();
  const source = new MemorySource(syntheticWorld(models));
  const store = new SnapshotStore();
  const metrics = createMetrics();
  const controller = new Controller({ source, store, codec: new ResourceCodec(root), settings: DEFAULT_SETTINGS, logger: silentLogger(), metrics });
  const server = new XdsServer({ root, snapshots: store, logger: silentLogger(), metrics, controlPlaneId: 'bench' });
  const port = await server.listen('127.0.0.1:0');
  await controller.start();
  const sidecars = new Clients();
  const { unsynced } = await sidecars.send<{ unsynced: number }>({ cmd: 'connect', target: `127.0.0.1:${port}`, count, models, proxyless: false });
  if (unsynced > 0) console.error(`stalled bench: ${unsynced} of ${count} sidecars not in sync`);
  const stalled = stall ? (await sidecars.send<{ stalled: number }>({ cmd: 'stall', ...STALL })).stalled : 0;
  const rssConnectedMb = rss();

  // The stalled sidecars' models (both runs, so the runs differ only in who reads): weights and endpoint
  // readiness rewritten every round, one snapshot per round, so each stalled stream is sent more than its
  // window and grpc-js's buffer hold.
  const ids = Array.from({ length: count }, (_, id) => id).filter((id) => STALL.offsets.includes(id % STALL.every));
  const churned = [...new Set(ids.flatMap((id) => modelsCalledBy(id, models)))].map((name) => Number(name.slice('model-'.length)));
  let snapshots = 0;
  for (let round = 0; round < CHURN_ROUNDS; round += 1) {
    const before = store.current()?.sequence ?? 0;
    source.change((world) => {
      for (const i of churned) {
        world.configMaps[i] = modelPolicy(i, 10 + (round % 80));
        for (const index of [2 * i, 2 * i + 1]) {
          const slice = world.endpointSlices[index];
          if (slice) world.endpointSlices[index] = { ...slice, endpoints: slice.endpoints.map((e, n) => ({ ...e, ready: n !== round % 5 })) };
        }
      }
    });
    const deadline = Date.now() + 30_000;
    while ((store.current()?.sequence ?? 0) === before && Date.now() < deadline) await sleep(10);
    snapshots += 1;
  }
  await sleep(1_000);
  const rssAfterChurnMb = rss();

  const latencies: number[] = [];
  const perChangeP99Ms: number[] = [];
  let fast = 0;
  for (let change = 0; change < CHANGES; change += 1) {
    await sidecars.send({ cmd: 'mark' });
    const t0 = Date.now();
    source.change((world) => (world.configMaps[0] = modelPolicy(0, 30 + change)));
    const deadline = t0 + 60_000;
    let report: Report = [];
    for (;;) {
      report = await sidecars.send<Report>({ cmd: 'report' });
      const waiting = report.filter((r, id) => isFast(id) && r.lastAck[TYPE_URLS.route] === undefined);
      if (waiting.length === 0 || Date.now() > deadline) break;
      await sleep(10);
    }
    const measured = report.filter((_, id) => isFast(id));
    fast = measured.length;
    const these = measured.flatMap((r) => (r.lastAck[TYPE_URLS.route] === undefined ? [] : [(r.lastAck[TYPE_URLS.route] ?? NaN) - t0]));
    latencies.push(...these);
    perChangeP99Ms.push(percentile(these, 99));
    await sleep(300);
  }
  const rssAfterMb = rss();
  await sidecars.send({ cmd: 'close' });
  controller.stop();
  await server.close(1_000);
  return { clients: count, models, stalled, fast, changes: CHANGES, acked: latencies.length, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: Math.max(...latencies), perChangeP99Ms, latenciesMs: latencies, churnSnapshots: snapshots, rssConnectedMb, rssAfterChurnMb, rssAfterMb };
}

/**
 * Runs with none and with 10% stalled, each in its own process, `pairs` of each in ABBA order (then BAAB...),
 * so that a burst of load from elsewhere on a shared machine does not land on one side only; latencies are
 * pooled per side. The rows for bench/run.ts.
 */
export async function measureStalledRows(count: number, models: number, pairs = 2): Promise<{ rows: string[][]; results: Record<'healthy' | 'stalled', Omit<StalledFigures, 'latenciesMs'>[]> }> {
  const run = async (stall: boolean) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', import.meta.filename, String(count), String(models), stall ? '1' : '0'], { maxBuffer: 16 * 2 ** 20 });
    return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as StalledFigures;
  };
  const healthy: StalledFigures[] = [];
  const stalled: StalledFigures[] = [];
  for (let pair = 0; pair < pairs; pair += 1) {
    for (const stall of pair % 2 === 0 ? [false, true] : [true, false]) (stall ? stalled : healthy).push(await run(stall));
  }
  const pooled = (runs: StalledFigures[]) => runs.flatMap((r) => r.latenciesMs);
  const perChange = (runs: StalledFigures[]) => percentile(runs.flatMap((r) => r.perChangeP99Ms), 50);
  const meanOf = (runs: StalledFigures[], pick: (r: StalledFigures) => number) => Math.round(runs.reduce((sum, r) => sum + pick(r), 0) / Math.max(1, runs.length));
  const [s, h] = [pooled(stalled), pooled(healthy)];
  const fmt = (n: number) => (Number.isFinite(n) ? `${n >= 100 ? n.toFixed(0) : n.toFixed(1)} ms` : 'n/a');
  const ratio = (a: number, b: number) => (Number.isFinite(a) && b > 0 ? `${(a / b).toFixed(2)}x` : '-');
  const first = stalled[0];
  const stalledCount = first?.stalled ?? 0;
  const runsP99 = (runs: StalledFigures[]) => runs.map((r) => r.p99Ms).join('/');
  const [rssS, rssH] = [meanOf(stalled, (r) => r.rssAfterChurnMb), meanOf(healthy, (r) => r.rssAfterChurnMb)];
  const who = `${first?.fast ?? 0} fast sidecars calling model-0 x ${first?.changes ?? 0} weight changes x ${pairs} runs: ${s.length} ACKs (all healthy: ${h.length})`;
  const rows = [
    [`weights -> fast sidecars ACKed p50, ${stalledCount} of ${count} stalled`, fmt(percentile(s, 50)), fmt(percentile(h, 50)), ratio(percentile(s, 50), percentile(h, 50)), `floor: the same with none stalled; ${who}`],
    [`weights -> fast sidecars ACKed p99, ${stalledCount} of ${count} stalled`, fmt(percentile(s, 99)), fmt(percentile(h, 99)), ratio(percentile(s, 99), percentile(h, 99)), `each run's p99 ${runsP99(stalled)} ms (all healthy ${runsP99(healthy)}); target <= 1.2x`],
    [`weights -> fast sidecars ACKed, median of each change's p99`, fmt(perChange(stalled)), fmt(perChange(healthy)), ratio(perChange(stalled), perChange(healthy)), 'one slow change on a busy machine moves the p99 above, not this'],
    [`server RSS with ${stalledCount} of ${count} sidecars stalled`, `${rssS} MB`, `${rssH} MB`, ratio(rssS, rssH), `${rssS - rssH >= 0 ? '+' : ''}${rssS - rssH} MB (mean of ${pairs} runs each) after ${first?.churnSnapshots ?? 0} snapshots changing the stalled sidecars' models`],
  ];
  const brief = (runs: StalledFigures[]) => runs.map(({ latenciesMs: _, ...figures }) => figures);
  return { rows, results: { healthy: brief(healthy), stalled: brief(stalled) } };
}

if (import.meta.main) {
  const [count, models, stall] = process.argv.slice(2).map(Number);
  console.log(JSON.stringify(await measureStalledRun(count || 1000, models || 1000, stall === 1)));
  process.exit(0);
}
