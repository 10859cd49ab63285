import v8 from 'node:v8';
import vm from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
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

interface Connected {
  node: string;
  ack: boolean;
  client: LeanAdsClient;
}

/** The server as `serve` wires it, fed by a controller; clients subscribe as Envoy sidecars do. */
class Mesh {
  readonly store = new SnapshotStore();
  readonly published: WeakRef<Snapshot>[] = [];
  readonly #root = loadEnvoyProtos();
  readonly #world = syntheticWorld(MODELS);
  readonly #server: XdsServer;
  readonly #controller: Controller;
  readonly #clients: Connected[] = [];
  #port = 0;

  constructor() {
    const metrics = createMetrics();
    const tracker = new RolloutTracker({ routeNames: [DEFAULT_SETTINGS.grpcTarget, SIDECAR_ROUTE_CONFIG] });
    this.store.subscribe((snapshot) => this.published.push(new WeakRef(snapshot)));
    this.#server = new XdsServer({ root: this.#root, snapshots: this.store, logger: silentLogger(), metrics, controlPlaneId: 'test' });
    this.#controller = new Controller({
      source: { read: async () => this.#world },
      store: this.store,
      codec: new ResourceCodec(this.#root),
      settings: DEFAULT_SETTINGS,
      logger: silentLogger(),
      metrics,
      // Every publish is recorded for rollouts, which then look at every stream.
      onPublish: (snapshot, changed, current) => {
        tracker.recordSnapshot(changed.map((change) => ({ ...change, sequence: snapshot.sequence })), current);
        tracker.evaluate(this.#server.streams());
      },
    });
  }

  async start(): Promise<void> {
    this.#port = await this.#server.listen('127.0.0.1:0');
    this.publish();
  }

  /** One model's weights change: a new snapshot whose route configuration differs. */
  publish(): void {
    this.#world.configMaps[0] = modelPolicy(0, 1 + (this.published.length % 98));
    this.#controller.apply({ ...this.#world, configMaps: [...this.#world.configMaps] });
  }

  /** A client that ACKs every response, or never answers one; it subscribes to all four types. */
  async connect(node: string, delta: boolean, ack: boolean): Promise<void> {
    const client = new LeanAdsClient(this.#root, `127.0.0.1:${this.#port}`, { delta, ack });
    client.subscribe(node, TYPE_URLS.cluster);
    client.subscribe(node, TYPE_URLS.endpoint, [...(this.store.current()?.resources('cluster').keys() ?? [])]);
    client.subscribe(node, TYPE_URLS.listener);
    client.subscribe(node, TYPE_URLS.route, [SIDECAR_ROUTE_CONFIG]);
    this.#clients.push({ node, ack, client });
    await this.caughtUp();
  }

  /** Every ACKing stream runs the current snapshot for all four types, and every client has been answered. */
  async caughtUp(): Promise<void> {
    const deadline = Date.now() + 10_000;
    const acking = new Set(this.#clients.filter((c) => c.ack).map((c) => c.node));
    for (;;) {
      const sequence = this.store.current()?.sequence;
      const streams = this.#server.streams().filter((stream) => acking.has(stream.node?.id ?? ''));
      const synced = streams.length === acking.size && streams.every((stream) => stream.syncState().size === 4 && [...stream.syncState().values()].every((state) => state.syncedThrough === sequence));
      if (synced && this.#clients.every(({ client }) => client.responses > 0)) return;
      if (Date.now() > deadline) throw new Error(`clients did not catch up with snapshot ${sequence}`);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /** Publishes `count` snapshots, letting the clients answer each, then collects garbage and reads what is left. */
  async churn(count: number): Promise<{ alive: number; heapUsed: number }> {
    for (let change = 0; change < count; change += 1) {
      this.publish();
      await this.caughtUp();
    }
    // WeakRefs keep their targets until the job that created them ends, so collect on a later turn.
    for (let round = 0; round < 3; round += 1) {
      await new Promise((resolve) => setImmediate(resolve));
      gc();
    }
    return { alive: this.published.filter((ref) => ref.deref() !== undefined).length, heapUsed: process.memoryUsage().heapUsed };
  }

  async close(): Promise<void> {
    for (const { client } of this.#clients) client.close();
    await this.#server.close(1_000);
  }
}

let mesh: Mesh | undefined;

afterEach(async () => {
  await mesh?.close();
  mesh = undefined;
});

describe('snapshot retention with clients connected', () => {
  it('keeps a bounded number of snapshots alive, and the heap does not grow with the number published', async () => {
    mesh = new Mesh();
    await mesh.start();
    await mesh.connect('sotw-acking', false, true);
    await mesh.connect('delta-acking', true, true);
    await mesh.connect('sotw-silent', false, false);
    await mesh.connect('delta-silent', true, false);
    const early = await mesh.churn(100);
    const late = await mesh.churn(200);
    expect(mesh.published.length).toBe(301);
    const grewMb = (late.heapUsed - early.heapUsed) / 2 ** 20;
    console.info(`alive after 101 published: ${early.alive}; after 301: ${late.alive}; heap ${(early.heapUsed / 2 ** 20).toFixed(1)} MB -> ${(late.heapUsed / 2 ** 20).toFixed(1)} MB`);
    // The current snapshot, and per stream and type at most the one last sent and the one last accepted.
    expect(early.alive).toBeLessThanOrEqual(4);
    expect(late.alive).toBeLessThanOrEqual(4);
    expect(grewMb).toBeLessThan(2);
  });

  it('does not keep, per stream, the snapshot it connected at while its other types stay unchanged', async () => {
    mesh = new Mesh();
    await mesh.start();
    // Weights churn while sidecars come and go: each connects under a different snapshot.
    for (let i = 0; i < 8; i += 1) {
      await mesh.connect(`sotw-${i}`, false, i % 2 === 0);
      await mesh.churn(3);
    }
    const { alive } = await mesh.churn(20);
    console.info(`alive after ${mesh.published.length} published, 8 streams connected at different snapshots: ${alive}`);
    expect(alive).toBeLessThanOrEqual(4);
  });
});
