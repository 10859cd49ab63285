/**
 * Clients that stop reading, during route and endpoint churn on 1,000 models (issue 13, "Backpressure for
 * delta"). A stalled client here is a real HTTP/2 connection whose ADS stream is paused before its first byte
 * (test/support/h2-ads-client.ts): HTTP/2 flow control then holds every write the server starts on it. What
 * the server may keep for such a stream is one pending response per type; everything beyond that is a queue
 * the size of the churn (the run checks the churn is large enough for that to show: hundreds of MB).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld, type LastGood } from '../../src/controller/reconcile.ts';
import { backendClusterName, modelTableName } from '../../src/envoy/names.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { RESOURCE_KINDS, TYPE_URLS, type ResourceKind } from '../../src/envoy/type-urls.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { assembleSnapshot } from '../../src/snapshot/assemble.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { Snapshot } from '../../src/snapshot/snapshot.ts';
import type { SourceWorld } from '../../src/sources/types.ts';
import { XdsServer } from '../../src/xds/server.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { modelPolicy, syntheticWorld } from '../../bench/world.ts';
import { eventually } from '../support/eventually.ts';
import { H2AdsClient, anyHash } from '../support/h2-ads-client.ts';

const MODELS = 1000;
const SNAPSHOTS = 100;
/** Server memory (heap + array buffers, after GC) the stalled streams may add over the churn. */
const MEMORY_BOUND_MB = 64;
/** Responses per type a stalled client may be sent in all: the one in flight when it stopped, one pending, one spare. */
const RESPONSES_PER_TYPE = 3;
const HEALTHY_SYNC_BOUND_MS = 10_000;

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const memoryMb = () => {
  for (let i = 0; i < 3; i += 1) gc();
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.arrayBuffers) / 2 ** 20;
};

/** Per type: the subscription the client makes, and whether it is a delta one. */
interface Subscriber {
  name: string;
  client: H2AdsClient;
  delta: boolean;
  /** Per kind: names, or 'wildcard'. */
  wants: Record<ResourceKind, string[] | 'wildcard'>;
}

const root = loadEnvoyProtos();
const codec = new ResourceCodec(root);
const store = new SnapshotStore();
let server: XdsServer;
let port: number;
const subscribers: Subscriber[] = [];
let final: Snapshot;
let healthySyncMs = NaN;
let memoryGrowthMb = NaN;
/** What a stalled wildcard delta stream would have queued without backpressure: every changed resource of every snapshot. */
let unboundedBacklogMb = 0;
/** The bytes of one whole wildcard state of the final snapshot, every type. */
let fullStateMb = 0;

function build(world: SourceWorld, lastGood: LastGood, sequence: number): { snapshot: Snapshot; lastGood: LastGood } {
  const reconciled = reconcileWorld(world, lastGood, codec, DEFAULT_SETTINGS);
  const assembled = assembleSnapshot(reconciled.encoded, DEFAULT_SETTINGS, codec, sequence);
  codec.endGeneration();
  if (!assembled.ok) throw new Error(assembled.problems.join('; '));
  return { snapshot: assembled.snapshot, lastGood: reconciled.lastGood };
}

/** Name -> what the client should hold (delta: version; SotW: hash of the Any), per type URL. */
function expected(subscriber: Subscriber, snapshot: Snapshot): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const kind of RESOURCE_KINDS) {
    const wants = subscriber.wants[kind];
    const selected = snapshot.select(kind, wants === 'wildcard' ? 'wildcard' : new Set(wants));
    out.set(TYPE_URLS[kind], new Map(selected.map((r) => [r.name, subscriber.delta ? r.version : anyHash(r.any)])));
  }
  return out;
}

/** Empty when the client holds exactly what it should of `snapshot`; else a few differences, for the failure message. */
function differences(subscriber: Subscriber, snapshot: Snapshot): string[] {
  const found: string[] = [];
  for (const [typeUrl, want] of expected(subscriber, snapshot)) {
    const held = subscriber.client.types.get(typeUrl)?.held ?? new Map<string, string>();
    const kind = typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
    for (const [name, version] of want) if (held.get(name) !== version) found.push(`${kind} ${name}: ${held.has(name) ? 'stale' : 'missing'}`);
    for (const name of held.keys()) if (!want.has(name)) found.push(`${kind} ${name}: extra`);
  }
  return found.length > 5 ? [...found.slice(0, 5), `... ${found.length - 5} more`] : found;
}

function connect(name: string, protocol: 'sotw' | 'delta', stalled: boolean, wants: Subscriber['wants']): Subscriber {
  const client = new H2AdsClient(root, port, protocol, { stalled });
  const delta = protocol === 'delta';
  for (const [i, kind] of RESOURCE_KINDS.entries()) {
    const named = wants[kind];
    const names = named !== 'wildcard' ? named : delta ? ['*'] : [];
    client.subscribe(TYPE_URLS[kind], names, i === 0 ? { id: name } : undefined);
  }
  const subscriber = { name, client, delta, wants };
  subscribers.push(subscriber);
  return subscriber;
}

/** What a sidecar calling these models subscribes to by name (on demand), listeners and scopes whole. */
function onDemand(models: string[]): Subscriber['wants'] {
  const clusters = models.flatMap((model) => [backendClusterName(model, 'stable'), backendClusterName(model, 'canary')]);
  return { listener: 'wildcard', scopedRoute: 'wildcard', route: models.map((model) => modelTableName(DEFAULT_SETTINGS.grpcTarget, model)), cluster: clusters, endpoint: clusters };
}

const CALLED = ['model-0', 'model-1', 'model-2'];
const byName = (name: string) => subscribers.find((s) => s.name === name)!;

beforeAll(async () => {
  const world = syntheticWorld(MODELS);
  let built = build(world, EMPTY_LAST_GOOD, 1);
  store.set(built.snapshot);
  server = new XdsServer({ root, snapshots: store, logger: silentLogger(), metrics: createMetrics(), controlPlaneId: 'stalled-test' });
  port = await server.listen('127.0.0.1:0');
  const first = built.snapshot;
  const all = (kind: ResourceKind) => [...first.resources(kind).keys()];
  const everyModel = Array.from({ length: MODELS }, (_, i) => `model-${i}`);
  connect('healthy-sotw', 'sotw', false, { ...onDemand(CALLED), cluster: 'wildcard' });
  connect('healthy-delta', 'delta', false, onDemand(CALLED));
  // Envoy's worst case over SotW: LDS/CDS/SRDS whole, RDS and EDS naming everything.
  connect('stalled-sotw', 'sotw', true, { listener: 'wildcard', scopedRoute: 'wildcard', cluster: 'wildcard', route: all('route'), endpoint: all('endpoint') });
  const everything = { listener: 'wildcard', scopedRoute: 'wildcard', cluster: 'wildcard', route: 'wildcard', endpoint: 'wildcard' } as const;
  connect('stalled-delta-wildcard', 'delta', true, everything);
  connect('stalled-delta-on-demand', 'delta', true, onDemand(everyModel.slice(0, 200)));
  for (const kind of RESOURCE_KINDS) for (const resource of first.select(kind, 'wildcard')) fullStateMb += resource.any.length / 2 ** 20;

  await eventually(() => expect(server.streams().filter((s) => s.syncState().size === 5)).toHaveLength(subscribers.length), { timeoutMs: 20_000 });
  for (const name of ['healthy-sotw', 'healthy-delta']) await eventually(() => expect(differences(byName(name), first).join('\n')).toBe(''), { timeoutMs: 20_000 });
  const before = memoryMb();

  // Churn: each snapshot rewrites the weights of 10 models (one the healthy clients call) and readiness in 4
  // EndpointSlices, so every one changes the xds:///infermesh table (MBs) and some endpoints and per-model tables.
  let previous = first;
  for (let s = 2; s <= SNAPSHOTS + 1; s += 1) {
    for (let j = 0; j < 10; j += 1) {
      const i = j === 0 ? s % CALLED.length : (s * 37 + j * 11) % MODELS;
      world.configMaps[i] = modelPolicy(i, 1 + ((s + j) % 98));
    }
    for (let j = 0; j < 4; j += 1) {
      const index = (s * 13 + j * 7) % world.endpointSlices.length;
      const slice = world.endpointSlices[index]!;
      world.endpointSlices[index] = { ...slice, endpoints: slice.endpoints.map((e, n) => ({ ...e, ready: n !== s % 5 })) };
    }
    built = build(world, built.lastGood, s);
    for (const kind of RESOURCE_KINDS) {
      const old = previous.resources(kind);
      for (const [name, resource] of built.snapshot.resources(kind)) if (old.get(name)?.version !== resource.version) unboundedBacklogMb += resource.any.length / 2 ** 20;
    }
    previous = built.snapshot;
    store.set(built.snapshot);
    await new Promise((resolve) => setImmediate(resolve));
  }
  final = built.snapshot;
  const published = Date.now();
  for (const name of ['healthy-sotw', 'healthy-delta']) await eventually(() => expect(differences(byName(name), final).join('\n')).toBe(''), { timeoutMs: HEALTHY_SYNC_BOUND_MS * 3 });
  healthySyncMs = Date.now() - published;
  memoryGrowthMb = memoryMb() - before;
}, 180_000);

afterAll(async () => {
  const tallies = subscribers.map(({ name, client }) => `${name}: ${[...client.types.values()].map((t) => `${t.responses}/${(t.bytes / 2 ** 20).toFixed(1)}MB`).join(' ')}`);
  console.log(`stalled clients: healthy synced ${healthySyncMs} ms after the last snapshot; memory +${memoryGrowthMb.toFixed(1)} MB; unbounded backlog ${unboundedBacklogMb.toFixed(0)} MB; full state ${fullStateMb.toFixed(1)} MB\n${tallies.join('\n')}`);
  for (const { client } of subscribers) client.close();
  await server?.close(1_000);
});

describe(`${SNAPSHOTS} snapshots of ${MODELS} models with stalled SotW and delta clients`, () => {
  it('is churn enough that queuing every response would cost hundreds of MB', () => {
    expect(unboundedBacklogMb).toBeGreaterThan(200);
  });

  it('healthy SotW and delta clients reach the final snapshot promptly beside the stalled ones', () => {
    expect(healthySyncMs).toBeLessThan(HEALTHY_SYNC_BOUND_MS);
  });

  it(`keeps the server's memory within ${MEMORY_BOUND_MB} MB of what it was before the churn while the clients stay stalled`, () => {
    expect(memoryGrowthMb, `grew ${memoryGrowthMb.toFixed(1)} MB; queuing every response would hold ${unboundedBacklogMb.toFixed(0)} MB`).toBeLessThan(MEMORY_BOUND_MB);
  });

  for (const name of ['stalled-sotw', 'stalled-delta-wildcard', 'stalled-delta-on-demand']) {
    it(`${name}: once it reads again, converges to the final snapshot, having been held at most one pending response per type`, async () => {
      const subscriber = byName(name);
      expect(subscriber.client.error).toBeUndefined();
      subscriber.client.resume();
      await eventually(() => expect(differences(subscriber, final).join('\n')).toBe(''), { timeoutMs: 60_000, intervalMs: 100 });
      const sent = Object.fromEntries([...subscriber.client.types].map(([typeUrl, tally]) => [typeUrl.slice(typeUrl.lastIndexOf('.') + 1), tally.responses]));
      const bytesMb = [...subscriber.client.types.values()].reduce((sum, tally) => sum + tally.bytes, 0) / 2 ** 20;
      for (const [kind, responses] of Object.entries(sent)) expect(responses, `${kind} responses: ${JSON.stringify(sent)}, ${bytesMb.toFixed(1)} MB in all`).toBeLessThanOrEqual(RESPONSES_PER_TYPE);
      expect(bytesMb).toBeLessThanOrEqual(RESPONSES_PER_TYPE * fullStateMb);
    }, 90_000);
  }
});
