/**
 * Memory under policy churn with a client connected (issue 9): one model's weights rewritten every 200 ms,
 * through the controller and its debounce as in production, one simulated proxy in a child process ACKing.
 * Part of `npm run bench`; alone: node --expose-gc bench/churn.ts [seconds] [models]
 */
import { Controller } from '../src/controller/controller.ts';
import { loadEnvoyProtos } from '../src/envoy/protos.ts';
import { silentLogger } from '../src/logging/logger.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { ResourceCodec } from '../src/snapshot/codec.ts';
import type { Snapshot } from '../src/snapshot/snapshot.ts';
import { XdsServer } from '../src/xds/server.ts';
import { SnapshotStore } from '../src/xds/snapshot-store.ts';
import { Clients } from './clients.ts';
import { MemorySource } from './memory-source.ts';
import { modelPolicy, syntheticWorld } from './world.ts';

export interface ChurnFigures {
  seconds: number;
  models: number;
  published: number;
  /** Snapshots still reachable after a full GC at the end. */
  alive: number;
  rssBeforeMb: number;
  rssPeakMb: number;
  rssAfterMb: number;
  heapAfterMb: number;
  externalAfterMb: number;
}

const mb = (bytes: number) => Math.round(bytes / 2 ** 20);

export async function measureChurn(seconds = 60, models = 1000, intervalMs = 200): Promise<ChurnFigures> {
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const root = loadEnvoyProtos();
  const source = new MemorySource(syntheticWorld(models));
  const store = new SnapshotStore();
  const published: WeakRef<Snapshot>[] = [];
  store.subscribe((snapshot) => published.push(new WeakRef(snapshot)));
  const metrics = createMetrics();
  const controller = new Controller({ source, store, codec: new ResourceCodec(root), settings: DEFAULT_SETTINGS, logger: silentLogger(), metrics });
  const server = new XdsServer({ root, snapshots: store, logger: silentLogger(), metrics, controlPlaneId: 'bench' });
  const port = await server.listen('127.0.0.1:0');
  await controller.start();
  const clients = new Clients();
  await clients.send({ cmd: 'connect', target: `127.0.0.1:${port}`, count: 1 });
  gc();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  let change = 0;
  const edits = setInterval(() => source.change((world) => (world.configMaps[0] = modelPolicy(0, 1 + (++change % 98)))), intervalMs);
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 250);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  clearInterval(edits);
  // Let the last debounced reconcile publish and the client ACK it before measuring.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  clearInterval(sampler);
  for (let round = 0; round < 3; round += 1) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  const after = process.memoryUsage();
  const figures = {
    seconds,
    models,
    published: published.length,
    alive: published.filter((ref) => ref.deref() !== undefined).length,
    rssBeforeMb: mb(rssBefore),
    rssPeakMb: mb(Math.max(rssPeak, after.rss)),
    rssAfterMb: mb(after.rss),
    heapAfterMb: mb(after.heapUsed),
    externalAfterMb: mb(after.external),
  };
  await clients.send({ cmd: 'close' });
  controller.stop();
  await server.close(1_000);
  return figures;
}

if (import.meta.main) {
  const [seconds, models] = process.argv.slice(2).map(Number);
  console.log(JSON.stringify(await measureChurn(seconds || 60, models || 1000)));
  process.exit(0);
}
