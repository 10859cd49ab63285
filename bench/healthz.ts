/**
 * /healthz while 10,000 models reconcile: the admin server and the controller in one process, as in
 * production, and a client asking /healthz every 20 ms over loopback. The floor is the same client against
 * the same server while nothing reconciles.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdminServer } from '../src/admin/server.ts';
import { Controller } from '../src/controller/controller.ts';
import type { ResourceCodec } from '../src/snapshot/codec.ts';
import { silentLogger } from '../src/logging/logger.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { SnapshotStore } from '../src/xds/snapshot-store.ts';
import { MemorySource } from './memory-source.ts';
import { modelPolicy, syntheticWorld } from './world.ts';

export interface HealthzFigures {
  /** Worst /healthz round trip while the full build ran, and while a one-model change rebuilt. */
  fullBuildWorstMs: number;
  oneChangeWorstMs: number;
  /** Worst round trip over the same number of probes with nothing to do. */
  idleWorstMs: number;
  probes: number;
}

function probe(port: number): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (response) => {
        response.resume();
        response.on('end', () => resolve(performance.now() - started));
      })
      .on('error', reject);
  });
}

/** Probes every intervalMs until `work` settles; returns the worst round trip. */
async function worstDuring(port: number, work: Promise<unknown>, intervalMs = 20): Promise<{ worst: number; probes: number }> {
  let done = false;
  void work.finally(() => (done = true));
  let worst = 0;
  let probes = 0;
  while (!done) {
    worst = Math.max(worst, await probe(port));
    probes += 1;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  return { worst, probes };
}

export async function measureHealthz(models: number, codec: ResourceCodec): Promise<HealthzFigures> {
  const source = new MemorySource(syntheticWorld(models));
  const metrics = createMetrics({ processMetrics: false });
  const controller = new Controller({ source, store: new SnapshotStore(), codec, settings: DEFAULT_SETTINGS, logger: silentLogger(), metrics });
  const admin = createAdminServer({ registry: metrics.registry, status: () => controller.status() });
  await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve));
  const { port } = admin.address() as AddressInfo;
  try {
    const full = await worstDuring(port, controller.refresh());
    source.world.configMaps[0] = modelPolicy(0, 50);
    const change = await worstDuring(port, controller.refresh());
    const idleProbes = Math.max(full.probes, 20);
    const idle = await worstDuring(port, new Promise((resolve) => setTimeout(resolve, idleProbes * 21)));
    return { fullBuildWorstMs: full.worst, oneChangeWorstMs: change.worst, idleWorstMs: idle.worst, probes: full.probes };
  } finally {
    await new Promise((resolve) => admin.close(resolve));
  }
}
