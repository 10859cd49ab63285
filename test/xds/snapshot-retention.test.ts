import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelPolicy, syntheticWorld } from '../../bench/world.ts';
import { Controller } from '../../src/controller/controller.ts';
import { SIDECAR_ROUTE_CONFIG } from '../../src/envoy/names.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { Snapshot } from '../../src/snapshot/snapshot.ts';
import { RolloutTracker } from '../../src/xds/rollout.ts';
import { XdsServer } from '../../src/xds/server.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { LeanAdsClient } from '../support/lean-ads-client.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const MODELS = 150;
/** Nodes whose streams ACK every response; the others never answer one. */
const ACKING = ['sotw-acking', 'delta-acking'];

const store = new SnapshotStore();
const world = syntheticWorld(MODELS);
const published: WeakRef<Snapshot>[] = [];
store.subscribe((snapshot) => published.push(new WeakRef(snapshot)));
let server: XdsServer;
let controller: Controller;
const clients: LeanAdsClient[] = [];

beforeAll(async () => {
  const root = loadEnvoyProtos();
  const metrics = createMetrics();
  const tracker = new RolloutTracker({ routeNames: [DEFAULT_SETTINGS.grpcTarget, SIDECAR_ROUTE_CONFIG] });
  server = new XdsServer({ root, snapshots: store, logger: silentLogger(), metrics, controlPlaneId: 'test' });
  // Wired as `serve` wires it: every publish is recorded for rollouts, which then look at every stream.
  controller = new Controller({
    source: { read: async () => world },
    store,
    codec: new ResourceCodec(root),
    settings: DEFAULT_SETTINGS,
    logger: silentLogger(),
    metrics,
    onPublish: (snapshot, changed, current) => {
      tracker.recordSnapshot(changed.map((change) => ({ ...change, sequence: snapshot.sequence })), current);
      tracker.evaluate(server.streams());
    },
  });
  const port = await server.listen('127.0.0.1:0');
  publish(0);
  const clusters = [...(store.current()?.resources('cluster').keys() ?? [])];
  for (const [node, delta, ack] of [['sotw-acking', false, true], ['delta-acking', true, true], ['sotw-silent', false, false], ['delta-silent', true, false]] as const) {
    const client = new LeanAdsClient(root, `127.0.0.1:${port}`, { delta, ack });
    client.subscribe(node, TYPE_URLS.cluster);
    client.subscribe(node, TYPE_URLS.endpoint, clusters);
    client.subscribe(node, TYPE_URLS.listener);
    client.subscribe(node, TYPE_URLS.route, [SIDECAR_ROUTE_CONFIG]);
    clients.push(client);
  }
  await caughtUp();
});

afterAll(async () => {
  for (const client of clients) client.close();
  await server.close(1_000);
});

/** One model's weights change: a new snapshot whose route configuration differs. */
function publish(change: number): void {
  world.configMaps[0] = modelPolicy(0, 1 + (change % 98));
  controller.apply({ ...world, configMaps: [...world.configMaps] });
}

/** Every ACKing stream runs the current snapshot for all four types, and every client has been answered. */
async function caughtUp(): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const sequence = store.current()?.sequence;
    const acking = server.streams().filter((stream) => ACKING.includes(stream.node?.id ?? ''));
    const synced = acking.length === ACKING.length && acking.every((stream) => stream.syncState().size === 4 && [...stream.syncState().values()].every((state) => state.syncedThrough === sequence));
    if (synced && clients.every((client) => client.responses > 0)) return;
    if (Date.now() > deadline) throw new Error(`clients did not catch up with snapshot ${sequence}: ${JSON.stringify(server.streams().map((s) => [s.node?.id, [...s.syncState()].map(([k, v]) => [k, v.syncedThrough, v.sentVersion, v.ackedVersion])]))} ${clients.map((c) => c.responses)}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Publishes `count` snapshots, letting the clients answer each, then collects garbage and reads what is left. */
async function churn(count: number): Promise<{ alive: number; heapUsed: number }> {
  const start = published.length;
  for (let change = start; change < start + count; change += 1) {
    publish(change);
    await caughtUp();
  }
  // WeakRefs keep their targets until the job that created them ends, so collect on a later turn.
  for (let round = 0; round < 3; round += 1) {
    await new Promise((resolve) => setImmediate(resolve));
    gc();
  }
  return { alive: published.filter((ref) => ref.deref() !== undefined).length, heapUsed: process.memoryUsage().heapUsed };
}

describe('snapshot retention with clients connected', () => {
  it('keeps a bounded number of snapshots alive, and the heap does not grow with the number published', async () => {
    const early = await churn(100);
    const late = await churn(200);
    expect(published.length).toBe(301);
    const grewMb = (late.heapUsed - early.heapUsed) / 2 ** 20;
    console.info(`alive after 101 published: ${early.alive}; after 301: ${late.alive}; heap ${(early.heapUsed / 2 ** 20).toFixed(1)} MB -> ${(late.heapUsed / 2 ** 20).toFixed(1)} MB`);
    // The current snapshot, and per stream and type at most the one last sent and the one last accepted.
    expect(early.alive).toBeLessThanOrEqual(4);
    expect(late.alive).toBeLessThanOrEqual(4);
    expect(grewMb).toBeLessThan(2);
  });
});
