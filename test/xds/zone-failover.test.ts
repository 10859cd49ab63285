/**
 * Zone failover over a real ADS server: EDS per caller zone for a model with zoneFailover (state of the world
 * and delta), the same flat ClusterLoadAssignment as before for every other model and for callers without a
 * zone, versions that two replicas agree on, and a push to each zone when endpoints change.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld, type LastGood } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { assembleSnapshot } from '../../src/snapshot/assemble.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { Snapshot } from '../../src/snapshot/snapshot.ts';
import type { ConfigMapObject, EndpointSliceObject, SourceWorld } from '../../src/sources/types.ts';
import { fetchClientStatus } from '../../src/status/csds-client.ts';
import { summarizeProxy } from '../../src/status/summarize.ts';
import { XdsServer } from '../../src/xds/server.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { RawAdsClient, type RawResponse } from '../support/raw-ads-client.ts';
import { RawDeltaClient } from '../support/raw-delta-client.ts';

type Root = ReturnType<typeof loadEnvoyProtos>;
let root: Root;
const cleanup: (() => unknown)[] = [];

beforeAll(() => {
  root = loadEnvoyProtos();
});

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

const ZONED = 'infermesh|zoned|main';
const FLAT = 'infermesh|flat|main';

function policy(model: string, extra: string): ConfigMapObject {
  const yaml = `model: ${model}\nbackends: [{ name: main, service: ${model}, port: grpc }]\n${extra}`;
  return { namespace: 'ml', name: `${model}-policy`, labels: { 'infermesh.io/policy': 'true' }, data: { 'policy.yaml': yaml }, creationTimestamp: '2026-01-01T00:00:00Z', origin: 'test' };
}

/** Two pods in zone-a, two in zone-b; `notReady` lists addresses left out (as Kubernetes does with unready pods). */
function slice(service: string, notReady: readonly string[] = []): EndpointSliceObject {
  const pods: [string, string][] = [['10.0.0.1', 'zone-a'], ['10.0.0.2', 'zone-a'], ['10.0.0.3', 'zone-b'], ['10.0.0.4', 'zone-b']];
  return {
    namespace: 'ml',
    name: `${service}-1`,
    serviceName: service,
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: 8001 }],
    endpoints: pods.map(([address, zone]) => ({ addresses: [address], ready: !notReady.includes(address), serving: !notReady.includes(address), terminating: false, zone })),
    origin: 'test',
  };
}

function world(notReady: readonly string[] = []): SourceWorld {
  return {
    configMaps: [policy('zoned', 'zoneFailover: { enabled: true }\n'), policy('flat', '')],
    endpointSlices: [slice('zoned', notReady), slice('flat', notReady)],
    readErrors: [],
  };
}

/** One replica's pipeline: its own codec and memo, as a separate process would have. */
class Replica {
  readonly codec = new ResourceCodec(root);
  #lastGood: LastGood = EMPTY_LAST_GOOD;
  #sequence = 0;

  publish(input: SourceWorld): Snapshot {
    const result = reconcileWorld(input, this.#lastGood, this.codec, DEFAULT_SETTINGS);
    this.#lastGood = result.lastGood;
    const assembled = assembleSnapshot(result.encoded, DEFAULT_SETTINGS, this.codec, ++this.#sequence);
    if (!assembled.ok) throw new Error(assembled.problems.join('; '));
    this.codec.endGeneration();
    return assembled.snapshot;
  }
}

async function serve(store: SnapshotStore): Promise<number> {
  const server = new XdsServer({ root, snapshots: store, logger: silentLogger(), metrics: createMetrics(), controlPlaneId: 'test' });
  const port = await server.listen('127.0.0.1:0');
  cleanup.push(() => server.close(1_000));
  return port;
}

function sotw(port: number, zone: string | undefined): RawAdsClient {
  const client = new RawAdsClient(root, `127.0.0.1:${port}`, { 'grpc.use_local_subchannel_pool': 1 });
  cleanup.push(() => client.close());
  client.send({ node: { id: `n-${zone ?? 'none'}`, ...(zone ? { locality: { zone } } : {}) }, type_url: TYPE_URLS.endpoint, resource_names: [ZONED, FLAT] });
  return client;
}

const assignmentType = () => root.lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');

interface Locality { zone: string; priority: number; weight: number; addresses: string[] }

function localities(value: Uint8Array): { name: string; localities: Locality[] } {
  const message = assignmentType().toObject(assignmentType().decode(value), { defaults: true, arrays: true }) as {
    cluster_name: string;
    endpoints: { locality?: { zone: string }; priority: number; load_balancing_weight?: { value: number }; lb_endpoints: { endpoint: { address: { socket_address: { address: string } } } }[] }[];
  };
  return {
    name: message.cluster_name,
    localities: message.endpoints.map((l) => ({
      zone: l.locality?.zone ?? '',
      priority: l.priority,
      weight: l.load_balancing_weight?.value ?? 0,
      addresses: l.lb_endpoints.map((e) => e.endpoint.address.socket_address.address),
    })),
  };
}

function byCluster(response: RawResponse): Map<string, { bytes: string; localities: Locality[] }> {
  return new Map(response.resources.map((r) => {
    const decoded = localities(r.value);
    return [decoded.name, { bytes: Buffer.from(r.value).toString('base64'), localities: decoded.localities }];
  }));
}

const eds = (r: RawResponse) => r.type_url === TYPE_URLS.endpoint;

describe('zone failover over ADS', () => {
  it('state of the world: each zone gets its own zone at priority 0 for the zoneFailover cluster, the flat assignment for the other; no zone and an unknown zone get the flat one', async () => {
    const store = new SnapshotStore();
    store.set(new Replica().publish(world()));
    const port = await serve(store);
    const [a, b, none, unknown] = await Promise.all(['zone-a', 'zone-b', undefined, 'zone-z'].map((zone) => sotw(port, zone).next(eds)));
    const [inA, inB, inNone, inUnknown] = [a, b, none, unknown].map((r) => byCluster(r!));
    expect(inA!.get(ZONED)?.localities).toEqual([
      { zone: 'zone-a', priority: 0, weight: 2, addresses: ['10.0.0.1', '10.0.0.2'] },
      { zone: 'zone-b', priority: 1, weight: 2, addresses: ['10.0.0.3', '10.0.0.4'] },
    ]);
    expect(inB!.get(ZONED)?.localities.map((l) => [l.zone, l.priority])).toEqual([['zone-a', 1], ['zone-b', 0]]);
    expect(inNone!.get(ZONED)?.localities.map((l) => [l.zone, l.priority])).toEqual([['zone-a', 0], ['zone-b', 0]]);
    expect(inUnknown!.get(ZONED)?.bytes).toBe(inNone!.get(ZONED)?.bytes);
    // The model without zone failover: the same bytes for everyone.
    for (const other of [inA, inB, inUnknown]) expect(other!.get(FLAT)?.bytes).toBe(inNone!.get(FLAT)?.bytes);
    // The type version is each zone's own: what a zone's clients ACK.
    expect(new Set([a!.version_info, b!.version_info, none!.version_info]).size).toBe(3);
    expect(unknown!.version_info).toBe(none!.version_info);
  });

  it('CSDS echoes the node\'s zone and reports each zone\'s EDS version as the one its client ACKed (status shows the zone)', async () => {
    const store = new SnapshotStore();
    store.set(new Replica().publish(world()));
    const port = await serve(store);
    const clients = new Map((['zone-a', 'zone-b'] as const).map((zone) => [zone, sotw(port, zone)]));
    for (const [zone, client] of clients) {
      const response = await client.next(eds);
      client.send({ node: { id: `n-${zone}`, locality: { zone } }, type_url: TYPE_URLS.endpoint, resource_names: [ZONED, FLAT], version_info: response.version_info, response_nonce: response.nonce });
    }
    const versions = new Map(await Promise.all([...clients].map(async ([zone, client]) => [zone, (await client.next(eds)).version_info] as const)));
    const status = await fetchClientStatus(root, `127.0.0.1:${port}`);
    for (const zone of ['zone-a', 'zone-b']) {
      const client = status.find((c) => c.node?.id === `n-${zone}`);
      expect(summarizeProxy(client!)).toMatchObject({ zone, status: 'SYNCED', types: { endpoint: { version: versions.get(zone as 'zone-a'), status: 'SYNCED' } } });
    }
  });

  it('delta: per-resource versions differ by zone only for the zoneFailover cluster', async () => {
    const store = new SnapshotStore();
    store.set(new Replica().publish(world()));
    const port = await serve(store);
    const delta = (zone: string | undefined) => {
      const client = new RawDeltaClient(root, `127.0.0.1:${port}`, { 'grpc.use_local_subchannel_pool': 1 });
      cleanup.push(() => client.close());
      client.send({ node: { id: `d-${zone ?? 'none'}`, ...(zone ? { locality: { zone } } : {}) }, type_url: TYPE_URLS.endpoint, resource_names_subscribe: [ZONED, FLAT] });
      return client.next((r) => r.type_url === TYPE_URLS.endpoint);
    };
    const [a, b, none] = await Promise.all([delta('zone-a'), delta('zone-b'), delta(undefined)]);
    const versions = (r: typeof a) => Object.fromEntries(r.resources.map((res) => [res.name, res.version]));
    const [va, vb, vn] = [versions(a), versions(b), versions(none)];
    expect(new Set([va[ZONED], vb[ZONED], vn[ZONED]]).size).toBe(3);
    expect(va[FLAT]).toBe(vn[FLAT]);
    expect(vb[FLAT]).toBe(vn[FLAT]);
    const zoned = a.resources.find((r) => r.name === ZONED);
    expect(localities(zoned!.resource.value).localities.map((l) => [l.zone, l.priority])).toEqual([['zone-a', 0], ['zone-b', 1]]);
  });

  it('two replicas built apart agree on the snapshot version and on every zone\'s EDS version and bytes', async () => {
    const ports = [];
    for (const replica of [new Replica(), new Replica()]) {
      replica.publish(world(['10.0.0.4']));
      const store = new SnapshotStore();
      store.set(replica.publish(world()));
      ports.push(await serve(store));
    }
    for (const zone of ['zone-a', 'zone-b', undefined]) {
      const [one, two] = await Promise.all(ports.map((port) => sotw(port, zone).next(eds)));
      expect(two!.version_info, String(zone)).toBe(one!.version_info);
      expect([...byCluster(two!)], String(zone)).toEqual([...byCluster(one!)]);
    }
  });

  it('a zone losing its pods: its clients get the other zone alone at priority 0; the version changes and the model counts as changed', async () => {
    const replica = new Replica();
    const store = new SnapshotStore();
    const before = replica.publish(world());
    store.set(before);
    const port = await serve(store);
    const client = sotw(port, 'zone-a');
    const first = await client.next(eds);
    client.send({ node: { id: 'n-zone-a', locality: { zone: 'zone-a' } }, type_url: TYPE_URLS.endpoint, resource_names: [ZONED, FLAT], version_info: first.version_info, response_nonce: first.nonce });
    const after = replica.publish(world(['10.0.0.1', '10.0.0.2']));
    expect(after.version).not.toBe(before.version);
    store.set(after);
    const second = await client.next((r) => eds(r) && r.nonce !== first.nonce);
    // Zone a holds none of the endpoints now: the flat assignment, one locality.
    expect(byCluster(second).get(ZONED)?.localities.map((l) => [l.zone, l.priority, l.addresses])).toEqual([['zone-b', 0, ['10.0.0.3', '10.0.0.4']]]);
    expect(second.version_info).not.toBe(first.version_info);
  });

  it('turning zoneFailover on changes the snapshot version although no type version changes (the controller publishes on it)', () => {
    const replica = new Replica();
    const off: SourceWorld = { ...world(), configMaps: [policy('zoned', ''), policy('flat', '')] };
    const before = replica.publish(off);
    const after = replica.publish(world());
    for (const kind of ['cluster', 'endpoint', 'route', 'listener'] as const) expect(after.typeVersion(kind), kind).toBe(before.typeVersion(kind));
    expect(after.version).not.toBe(before.version);
    expect(after.forZone('zone-a').typeVersion('endpoint')).not.toBe(before.forZone('zone-a').typeVersion('endpoint'));
    expect(before.forZone('zone-a')).toBe(before);
    expect(after.forZone('zone-a')).toBe(after.forZone('zone-a'));
    expect(after.variantZones()).toEqual(['zone-a', 'zone-b']);
  });
});
