import { describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { SourceWorld } from '../../src/sources/types.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { syntheticWorld } from '../../bench/world.ts';

function controllerOf(world: SourceWorld, store: SnapshotStore): Controller {
  return new Controller({
    source: { read: async () => world },
    store,
    codec: new ResourceCodec(loadEnvoyProtos()),
    settings: DEFAULT_SETTINGS,
    logger: silentLogger(),
    metrics: createMetrics({ processMetrics: false }),
  });
}

describe('a large reconcile', () => {
  it('lets the event loop run (health probes, xDS streams) while it builds, and publishes the same snapshot', async () => {
    const world: SourceWorld = syntheticWorld(800, 2);
    const store = new SnapshotStore();
    const controller = controllerOf(world, store);
    let turns = 0;
    let polling = true;
    const poll = () => {
      turns += 1;
      if (polling) setImmediate(poll);
    };
    // The refresh starts its reconcile after the read; count the event-loop turns until it has published.
    const refreshed = controller.refresh();
    setImmediate(poll);
    await refreshed;
    polling = false;
    expect(controller.status().models.filter((m) => m.state === 'serving')).toHaveLength(800);
    // Hundreds of milliseconds of work cut into slices of about 10 ms: many turns, not one at the end.
    expect(turns).toBeGreaterThan(10);

    // Run at once instead of in slices, the same world gives the same resources.
    const once = controllerOf(world, new SnapshotStore()).apply(world);
    for (const kind of ['cluster', 'endpoint', 'listener', 'route'] as const) {
      expect(store.current()?.typeVersion(kind)).toBe(once?.typeVersion(kind));
    }
  }, 60_000);
});
