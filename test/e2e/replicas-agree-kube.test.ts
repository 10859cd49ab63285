import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/cli/serve.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { eventually } from '../support/eventually.ts';
import { startFakeKube, type FakeKube, type KubeObject } from '../support/fake-kube/index.ts';
import { deltaContent, differences, fetchDelta, fetchSotw, sortedByName, sotwContent, subscriptions } from '../support/replica-resources.ts';

/**
 * Two replicas reading the Kubernetes API (a fake one over HTTPS) agree byte for byte although they learnt
 * the world differently: replica A from watch events in the order things happened (creations out of name
 * order, updates, a delete and re-create, a contested model name), replica B from one list in etcd key
 * order after all of it. In-process replicas, each with its own informers, controller and codec.
 */
const root = loadEnvoyProtos();
const MODELS = 20;
const NS = 'models';
let kube: FakeKube;
const servers: RunningServer[] = [];
const clients: { close(): void }[] = [];
let clock = Date.parse('2026-03-01T00:00:00Z');

function policy(name: string, model: string, backends: { name: string; service: string; weight: number }[], extra = ''): KubeObject {
  const lines = backends.map((b) => `  - { name: ${b.name}, service: ${b.service}, port: grpc, version: "${b.name === 'stable' ? 1 : 2}", weight: ${b.weight} }`);
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS, labels: { 'infermesh.io/policy': 'true' } }, data: { 'policy.yaml': `model: ${model}\nserver: triton\nbackends:\n${lines.join('\n')}\n${extra}` } };
}

const modelPolicy = (i: number, stable = 90, extra = '') => policy(`km${i}-policy`, `km-${i}`, [{ name: 'stable', service: `km${i}-stable`, weight: stable }, { name: 'canary', service: `km${i}-canary`, weight: 100 - stable }], extra);

function slice(name: string, service: string, addresses: string[]): KubeObject {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name, namespace: NS, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: 8001, protocol: 'TCP' }],
    endpoints: addresses.map((address, e) => ({ addresses: [address], conditions: { ready: e !== 1, serving: true, terminating: false }, zone: `zone-${e % 2}`, targetRef: { kind: 'Pod', name: `${name}-${e}` } })),
  };
}

function put(kind: 'ConfigMap' | 'EndpointSlice', object: KubeObject): void {
  const existing = kube.get(kind, NS, object.metadata.name ?? '');
  if (existing) kube.update(kind, { ...object, metadata: { ...object.metadata, resourceVersion: existing.metadata.resourceVersion } });
  else kube.create(kind, object);
}

async function replica(): Promise<RunningServer> {
  const server = await startServer({
    source: { kind: 'kubernetes', kubeconfig: await kube.writeKubeconfig(), namespaces: [], events: false },
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    settings: { ...DEFAULT_SETTINGS, controlPlaneNamespace: 'infermesh-system' },
    logger: silentLogger(),
    holdoffMs: 20,
  });
  servers.push(server);
  await eventually(() => expect(server.controller.status().ready).toBe(true));
  return server;
}

/** A's snapshot version once it has stopped moving. */
async function settled(server: RunningServer): Promise<string> {
  return eventually(async () => {
    const seen = server.controller.status().snapshotVersion;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(server.controller.status().snapshotVersion).toBe(seen);
    return seen ?? '';
  });
}

const tables = ['infermesh', 'infermesh/contested', ...Array.from({ length: MODELS }, (_, i) => `infermesh/km-${i}`)];
const clusters = ['infermesh|contested|aaa', 'infermesh|contested|zzz', ...Array.from({ length: MODELS }, (_, i) => [`infermesh|km-${i}|stable`, `infermesh|km-${i}|canary`]).flat()];
const wanted = subscriptions(tables, clusters);

beforeAll(async () => {
  // Every object gets its own creation second: age decides contested names, as in a cluster.
  kube = await startFakeKube({ bookmarkIntervalMs: 200, now: () => new Date((clock += 1_000)) });
  // Created from the last model to the first: out of etcd key order.
  for (let i = MODELS - 1; i >= 0; i -= 1) {
    put('EndpointSlice', slice(`km${i}-stable-x`, `km${i}-stable`, [`10.1.${i}.3`, `10.1.${i}.1`, `10.1.${i}.2`]));
    if (i % 4 !== 0) put('EndpointSlice', slice(`km${i}-canary-x`, `km${i}-canary`, [`10.2.${i}.1`]));
    put('ConfigMap', modelPolicy(i));
  }
  put('ConfigMap', policy('zz-claim', 'contested', [{ name: 'zzz', service: 'km0-stable', weight: 100 }]));
  const a = await replica();
  const before = await settled(a);
  // What A lives through and B never sees.
  put('ConfigMap', policy('aa-claim', 'contested', [{ name: 'aaa', service: 'km1-stable', weight: 100 }]));
  for (let i = 0; i < MODELS; i += 4) put('EndpointSlice', slice(`km${i}-canary-x`, `km${i}-canary`, [`10.2.${i}.9`, `10.2.${i}.1`]));
  put('EndpointSlice', slice('km5-stable-y', 'km5-stable', [`10.1.5.7`]));
  put('ConfigMap', modelPolicy(3, 50));
  put('ConfigMap', modelPolicy(3, 90, 'circuitBreaker: { maxRequests: 64 }\n'));
  kube.remove('ConfigMap', { metadata: { namespace: NS, name: 'km7-policy' } });
  put('ConfigMap', modelPolicy(7, 80));
  kube.remove('EndpointSlice', { metadata: { namespace: NS, name: 'km9-stable-x' } });
  put('EndpointSlice', slice('km9-stable-x', 'km9-stable', [`10.1.9.2`, `10.1.9.1`]));
  await eventually(() => expect(a.controller.status().snapshotVersion).not.toBe(before));
  await settled(a);
  await replica();
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all(servers.map((server) => server.close()));
  await kube?.close();
});

describe('two replicas on the Kubernetes API, one through watch events and one through a late list', () => {
  it('serve the same snapshot version and byte-identical resources over SotW and delta', async () => {
    const [a, b] = servers as [RunningServer, RunningServer];
    expect(b.controller.status().snapshotVersion).toBe(a.controller.status().snapshotVersion);
    // The older claim keeps the contested name on both: zz-claim was created first.
    expect(b.controller.status().models.filter((m) => m.model === 'contested').map((m) => [m.state, m.source?.configMap])).toEqual([['serving', 'zz-claim'], ['conflict', 'aa-claim']]);
    const sotwA = await fetchSotw(root, `127.0.0.1:${a.xdsPort}`, 'kube-agree', wanted, clients);
    const sotwB = await fetchSotw(root, `127.0.0.1:${b.xdsPort}`, 'kube-agree', wanted, clients);
    for (const answer of sotwA) expect(answer.response.resources.length, answer.label).toBeGreaterThan(0);
    expect(differences(sotwA.map((x) => sotwContent(root, x)), sotwB.map((x) => sotwContent(root, x)))).toEqual([]);
    const deltaA = await fetchDelta(root, `127.0.0.1:${a.xdsPort}`, 'kube-agree-delta', wanted, clients);
    const deltaB = await fetchDelta(root, `127.0.0.1:${b.xdsPort}`, 'kube-agree-delta', wanted, clients);
    expect(differences(deltaA.map(deltaContent).map(sortedByName), deltaB.map(deltaContent).map(sortedByName))).toEqual([]);
  });
});
