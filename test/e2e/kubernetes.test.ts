import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeModelServer, type FakeModelServer, type TritonClient } from '../../demo/fake-model-server.ts';
import { startServer, type RunningServer } from '../../src/cli/serve.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { eventually } from '../support/eventually.ts';
import { startFakeKube, type FakeKube, type KubeObject } from '../support/fake-kube/index.ts';
import { xdsChannelOptions } from '../support/mesh.ts';
import { infer, tally, tritonOverXds } from '../support/xds-client.ts';

/**
 * Kubernetes mode end to end: the real @kubernetes/client-node talks HTTPS to a fake API server that
 * follows the API's list/watch conventions; a real @grpc/grpc-js-xds client's traffic follows what is
 * created, changed and deleted there.
 */
const NS = 'models';
let kube: FakeKube;
let server: RunningServer;
let client: TritonClient;
const pods = new Map<string, FakeModelServer>();

function policy(name: string, body: string): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: NS, labels: { 'infermesh.io/policy': 'true' } }, data: { 'policy.yaml': body } };
}

function resnetPolicy(stable: number, canary: number): KubeObject {
  return policy('resnet50', `model: resnet50\nserver: triton\nbackends:\n  - { name: stable, service: v1, port: grpc, version: "1", weight: ${stable} }\n  - { name: canary, service: v2, port: grpc, version: "2", weight: ${canary} }\n`);
}

function slice(service: string, members: { pod: string; ready?: boolean }[]): KubeObject {
  const first = pods.get(members[0]?.pod ?? '');
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { name: `${service}-abc`, namespace: NS, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: first?.grpcPort ?? 1, protocol: 'TCP' }],
    endpoints: members.map(({ pod, ready = true }) => ({ addresses: [pods.get(pod)?.host ?? ''], conditions: { ready, serving: ready, terminating: false }, targetRef: { kind: 'Pod', name: pod } })),
  };
}

async function servedBy(calls = 30): Promise<string[]> {
  const { byPod, failures } = await tally(calls, () => infer(client, { 'x-model': 'resnet50' }), 5);
  expect(failures).toEqual([]);
  return [...byPod.keys()].sort();
}

function put(kind: 'ConfigMap' | 'EndpointSlice', object: KubeObject): void {
  const existing = kube.get(kind, NS, object.metadata.name ?? '');
  if (existing) kube.update(kind, { ...object, metadata: { ...object.metadata, resourceVersion: existing.metadata.resourceVersion } });
  else kube.create(kind, object);
}

beforeAll(async () => {
  kube = await startFakeKube({ bookmarkIntervalMs: 200 });
  // All pods share one port number on their own addresses, as pods of one Deployment do.
  const first = await startFakeModelServer({ kind: 'triton', host: '127.0.0.71', pod: 'v1-a', models: ['resnet50'], version: '1' });
  pods.set('v1-a', first);
  for (const [pod, host, version] of [['v1-b', '127.0.0.72', '1'], ['v2-a', '127.0.0.73', '2']] as const) {
    pods.set(pod, await startFakeModelServer({ kind: 'triton', host, grpcPort: first.grpcPort, pod, models: ['resnet50'], version }));
  }
  put('EndpointSlice', slice('v1', [{ pod: 'v1-a' }]));
  put('EndpointSlice', slice('v2', [{ pod: 'v2-a' }]));
  put('ConfigMap', resnetPolicy(100, 0));
  server = await startServer({
    source: { kind: 'kubernetes', kubeconfig: await kube.writeKubeconfig(), namespaces: [], events: true, identity: 'replica-a', leaseRenewMs: 200 },
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    settings: { ...DEFAULT_SETTINGS, controlPlaneNamespace: 'infermesh-system' },
    logger: silentLogger(),
    holdoffMs: 20,
  });
  client = tritonOverXds(xdsChannelOptions(server.xdsPort, 'kube-e2e'));
  await eventually(async () => expect(await servedBy(5)).toEqual(['v1-a']));
}, 30_000);

afterAll(async () => {
  client?.close();
  await server?.close();
  await Promise.all([...pods.values()].map((pod) => pod.close()));
  await kube?.close();
});

describe('Kubernetes mode, driven through the API server', () => {
  it('selects policy ConfigMaps on the server side and asks for bookmarks', () => {
    const configMapWatches = kube.requests.filter((r) => r.path === '/api/v1/configmaps' && r.watch);
    expect(configMapWatches.map((r) => r.query['labelSelector'])).toEqual(expect.arrayContaining(['infermesh.io/policy=true', 'infermesh.io/defaults=true']));
    expect(configMapWatches.every((r) => r.query['allowWatchBookmarks'] === 'true')).toBe(true);
  });

  it('follows weight changes', async () => {
    put('ConfigMap', resnetPolicy(0, 100));
    await eventually(async () => expect(await servedBy()).toEqual(['v2-a']));
    put('ConfigMap', resnetPolicy(100, 0));
    await eventually(async () => expect(await servedBy()).toEqual(['v1-a']));
  });

  it('follows endpoints scaling up and down, and gives a not-ready pod nothing', async () => {
    put('EndpointSlice', slice('v1', [{ pod: 'v1-a' }, { pod: 'v1-b' }]));
    await eventually(async () => expect(await servedBy()).toEqual(['v1-a', 'v1-b']));
    put('EndpointSlice', slice('v1', [{ pod: 'v1-a', ready: false }, { pod: 'v1-b' }]));
    await eventually(async () => expect(await servedBy()).toEqual(['v1-b']));
    put('EndpointSlice', slice('v1', [{ pod: 'v1-a' }]));
    await eventually(async () => expect(await servedBy()).toEqual(['v1-a']));
  });

  it('writes NoReadyEndpoints on the policy ConfigMap once when the model has no pod left, and EndpointsReady when it has one again', async () => {
    put('EndpointSlice', slice('v1', [{ pod: 'v1-a', ready: false }]));
    put('EndpointSlice', slice('v2', [{ pod: 'v2-a', ready: false }]));
    await eventually(() => expect(kube.events().some((e) => e['reason'] === 'NoReadyEndpoints')).toBe(true));
    // Another reconcile while nothing serves: no second Event (nor a repeat of the first).
    const fingerprint = () => server.controller.status().models.find((m) => m.model === 'resnet50')?.fingerprint;
    const before = fingerprint();
    put('ConfigMap', resnetPolicy(90, 10));
    await eventually(() => expect(fingerprint()).not.toBe(before));
    expect(server.controller.status().modelEndpoints?.find((m) => m.model === 'resnet50')?.backends.map((b) => b.endpoints.length)).toEqual([0, 0]);
    put('EndpointSlice', slice('v1', [{ pod: 'v1-a' }]));
    put('EndpointSlice', slice('v2', [{ pod: 'v2-a' }]));
    put('ConfigMap', resnetPolicy(100, 0));
    await eventually(() => expect(kube.events().some((e) => e['reason'] === 'EndpointsReady')).toBe(true));
    const warnings = kube.events().filter((e) => e['reason'] === 'NoReadyEndpoints');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.['type']).toBe('Warning');
    expect(warnings[0]?.['count']).toBe(1);
    expect(warnings[0]?.['involvedObject']).toMatchObject({ kind: 'ConfigMap', name: 'resnet50', namespace: NS });
    expect(warnings[0]?.['message']).toBe(`model resnet50 has no ready endpoints, its requests fail: backend stable (${NS}/v1:grpc): no pods; backend canary (${NS}/v2:grpc): no pods`);
    expect(await servedBy()).toEqual(['v1-a']);
  });

  it('keeps the last good policy on a broken edit, writes a Warning Event, then a Normal one when fixed', async () => {
    put('ConfigMap', policy('resnet50', 'model: resnet50\nbackends: [{ name: stable, service: v1, port: grpc, wieght: 5 }]\n'));
    await eventually(() => expect(kube.events().some((e) => e['reason'] === 'PolicyRejected' && String(e['message']).includes('wieght'))).toBe(true));
    const warning = kube.events().find((e) => e['reason'] === 'PolicyRejected');
    expect(warning?.['involvedObject']).toMatchObject({ kind: 'ConfigMap', name: 'resnet50', namespace: NS });
    expect(String(warning?.['message'])).toContain('did you mean "weight"');
    expect(await servedBy()).toEqual(['v1-a']);
    put('ConfigMap', resnetPolicy(100, 0));
    await eventually(() => expect(kube.events().some((e) => e['reason'] === 'PolicyAccepted')).toBe(true));
  });

  it('re-lists after a forced 410 Gone without missing a change', async () => {
    const lists = () => kube.requests.filter((r) => r.path === '/api/v1/configmaps' && !r.watch).length;
    const listsBefore = lists();
    kube.forceGoneOnNextWatch();
    kube.closeWatches();
    put('ConfigMap', resnetPolicy(0, 100));
    await eventually(async () => expect(await servedBy()).toEqual(['v2-a']));
    expect(lists()).toBeGreaterThan(listsBefore);
    put('ConfigMap', resnetPolicy(100, 0));
    await eventually(async () => expect(await servedBy()).toEqual(['v1-a']));
  });

  it('recovers from a dropped connection (socket reset) with backoff, without losing changes', async () => {
    kube.closeWatches({ abrupt: true });
    put('ConfigMap', resnetPolicy(0, 100));
    await eventually(async () => expect(await servedBy()).toEqual(['v2-a']));
    put('ConfigMap', resnetPolicy(100, 0));
    await eventually(async () => expect(await servedBy()).toEqual(['v1-a']));
  });

  it('keeps serving when Events cannot be written', async () => {
    const restore = kube.failWrites('Event', 500);
    try {
      put('ConfigMap', policy('resnet50', 'model: resnet50\nbackends: []\n'));
      await eventually(() => expect(server.controller.status().models.find((m) => m.model === 'resnet50')?.state).toBe('stale'));
      expect(await servedBy()).toEqual(['v1-a']);
      await eventually(async () => expect(await server.metrics.registry.getSingleMetricAsString('infermesh_kube_events_total')).toMatch(/outcome="failed"\} [1-9]/));
    } finally {
      restore();
    }
    put('ConfigMap', resnetPolicy(100, 0));
    await eventually(() => expect(server.controller.status().models.find((m) => m.model === 'resnet50')?.state).toBe('serving'));
  });

  it('holds the events Lease in the control plane namespace', () => {
    const lease = kube.leases().find((l) => l.metadata.name === 'infermesh-events');
    expect(lease?.metadata.namespace).toBe('infermesh-system');
    expect((lease?.['spec'] as { holderIdentity?: string }).holderIdentity).toBe('replica-a');
  });

  it('makes a deleted policy\'s model unknown', async () => {
    kube.remove('ConfigMap', { metadata: { namespace: NS, name: 'resnet50' } });
    await eventually(async () => expect(await infer(client, { 'x-model': 'resnet50' })).toMatchObject({ ok: false, code: 5 }));
  });
});

describe('Kubernetes mode start-up', () => {
  it('stays unready, serving nothing, while the initial lists are slow', async () => {
    const release = kube.holdLists();
    const slow = await startServer({
      source: { kind: 'kubernetes', kubeconfig: await kube.writeKubeconfig(), namespaces: [NS], events: false },
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      settings: DEFAULT_SETTINGS,
      logger: silentLogger(),
    });
    try {
      const readyz = () => fetch(`http://127.0.0.1:${slow.adminPort}/readyz`).then((r) => r.status);
      expect(await readyz()).toBe(503);
      expect(slow.store.current()).toBeUndefined();
      release();
      await eventually(async () => expect(await readyz()).toBe(200));
      expect(slow.store.current()).toBeDefined();
    } finally {
      release();
      await slow.close();
    }
  });
});
