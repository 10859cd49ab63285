/**
 * The fake Kubernetes API server, driven by the real @kubernetes/client-node over HTTPS: lists with
 * selectors and pagination, informers (list+watch) through reconnects, 410 Gone and bookmarks, raw
 * watches, Events and Leases writes, and the failure switches the end-to-end tests rely on.
 */
import * as k8s from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { loadKubeConfig, Recorder, startFakeKube, within, type FakeKube, type KubeObject } from '../support/fake-kube/index.ts';

let fake: FakeKube;
let kc: k8s.KubeConfig;
let cleanups: (() => unknown)[] = [];

beforeEach(async () => {
  fake = await startFakeKube({ bookmarkIntervalMs: 0 });
  kc = loadKubeConfig(fake);
  cleanups = [];
});

afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  await fake.close();
});

const cm = (name: string, labels: Record<string, string> = {}, namespace = 'default'): KubeObject => ({
  metadata: { name, namespace, labels },
  data: { key: name },
});

/** The HTTP status and Status body of a failed client-node call. */
async function failureOf(call: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    if (!(error instanceof k8s.ApiException)) throw error;
    const body: unknown = typeof error.body === 'string' ? JSON.parse(error.body) : error.body;
    return { code: error.code, body: body as Record<string, unknown> };
  }
  throw new Error('expected the call to fail');
}

const names = (items: readonly { metadata?: { name?: string } }[]): string[] => items.map((item) => item.metadata?.name ?? '').sort();
const lists = (path: string) => fake.requests.filter((r) => r.method === 'GET' && r.path === path && !r.watch);
const watches = (path: string) => fake.requests.filter((r) => r.path === path && r.watch);

interface Seen {
  verb: string;
  name: string;
  rv: string | undefined;
}

function recordInformer(informer: k8s.Informer<k8s.KubernetesObject>): Recorder<Seen> {
  const recorder = new Recorder<Seen>();
  for (const verb of [k8s.ADD, k8s.UPDATE, k8s.DELETE] as const) {
    informer.on(verb, (object) => recorder.push({ verb, name: object.metadata?.name ?? '', rv: object.metadata?.resourceVersion }));
  }
  informer.on(k8s.ERROR, (error) => recorder.push({ verb: 'error', name: String(error), rv: undefined }));
  return recorder;
}

const POLICY = 'infermesh.io/policy=true';
const policy = (name: string): KubeObject => cm(name, { 'infermesh.io/policy': 'true' });

async function policyInformer(): Promise<{ informer: k8s.Informer<k8s.V1ConfigMap> & k8s.ObjectCache<k8s.V1ConfigMap>; seen: Recorder<Seen> }> {
  const api = kc.makeApiClient(k8s.CoreV1Api);
  const informer = k8s.makeInformer(kc, '/api/v1/configmaps', () => api.listConfigMapForAllNamespaces({ labelSelector: POLICY }), POLICY);
  const seen = recordInformer(informer);
  await within(informer.start(), 'the informer to start');
  cleanups.push(() => informer.stop());
  return { informer, seen };
}

describe('HTTPS, authentication and the kubeconfig', () => {
  it('lists over TLS with the CA and token of its kubeconfig, file or string', async () => {
    fake.create('ConfigMap', policy('p1'));
    fake.create('ConfigMap', cm('plain'));
    const fromFile = new k8s.KubeConfig();
    fromFile.loadFromFile(await fake.writeKubeconfig());
    const list = await fromFile.makeApiClient(k8s.CoreV1Api).listConfigMapForAllNamespaces({ labelSelector: POLICY });
    expect(names(list.items)).toEqual(['p1']);
    expect(list.kind).toBe('ConfigMapList');
    expect(list.metadata?.resourceVersion).toBe(fake.resourceVersion());
    // Real API servers leave kind/apiVersion off list items.
    expect(list.items[0]?.kind).toBeUndefined();
    expect(list.items[0]?.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(lists('/api/v1/configmaps').at(-1)?.query['labelSelector']).toBe(POLICY);
  });

  it('answers 401 without the right bearer token, and its certificate fails without the CA', async () => {
    const wrongToken = new k8s.KubeConfig();
    wrongToken.loadFromString(fake.kubeconfig().replace(fake.token, 'not-the-token'));
    const denied = await failureOf(wrongToken.makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: 'default' }));
    expect(denied).toMatchObject({ code: 401 });
    const noToken = new k8s.KubeConfig();
    noToken.loadFromOptions({
      clusters: [{ name: 'c', server: fake.url, caData: Buffer.from(fake.caPem).toString('base64') }],
      users: [{ name: 'anonymous' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'anonymous' }],
      currentContext: 'x',
    });
    expect(await failureOf(noToken.makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: 'default' }))).toMatchObject({ code: 401 });

    const noCa = new k8s.KubeConfig();
    noCa.loadFromOptions({
      clusters: [{ name: 'c', server: fake.url, skipTLSVerify: false }],
      users: [{ name: 'u', token: fake.token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const before = fake.requests.length;
    await expect(noCa.makeApiClient(k8s.CoreV1Api).listNamespacedConfigMap({ namespace: 'default' })).rejects.toThrow();
    expect(fake.requests.length).toBe(before);
  });
});

describe('lists', () => {
  it('applies equality and set-based label selectors server-side', async () => {
    const api = kc.makeApiClient(k8s.CoreV1Api);
    fake.create('ConfigMap', cm('a', { tier: 'gold', app: 'x' }));
    fake.create('ConfigMap', cm('b', { tier: 'silver', app: 'y' }));
    fake.create('ConfigMap', cm('c', { app: 'x' }));
    const select = async (labelSelector: string) => names((await api.listNamespacedConfigMap({ namespace: 'default', labelSelector })).items);
    expect(await select('app=x')).toEqual(['a', 'c']);
    expect(await select('app==x,tier')).toEqual(['a']);
    expect(await select('tier!=gold')).toEqual(['b', 'c']);
    expect(await select('tier in (gold, silver)')).toEqual(['a', 'b']);
    expect(await select('tier notin (gold)')).toEqual(['b', 'c']);
    expect(await select('!tier')).toEqual(['c']);
    const bad = await failureOf(api.listNamespacedConfigMap({ namespace: 'default', labelSelector: 'tier in gold' }));
    expect(bad).toMatchObject({ code: 400, body: { kind: 'Status', reason: 'BadRequest' } });
  });

  it('applies field selectors (metadata and Event fields), rejecting unknown fields', async () => {
    const api = kc.makeApiClient(k8s.CoreV1Api);
    fake.create('ConfigMap', cm('a', {}, 'ns1'));
    fake.create('ConfigMap', cm('b', {}, 'ns2'));
    fake.create('ConfigMap', cm('a', {}, 'ns2'));
    expect(names((await api.listConfigMapForAllNamespaces({ fieldSelector: 'metadata.name=a' })).items)).toEqual(['a', 'a']);
    const notNs1 = await api.listConfigMapForAllNamespaces({ fieldSelector: 'metadata.namespace!=ns1' });
    expect(notNs1.items.map((i) => `${i.metadata?.namespace}/${i.metadata?.name}`)).toEqual(['ns2/a', 'ns2/b']);
    fake.create('Event', { metadata: { name: 'e1', namespace: 'ns1' }, involvedObject: { kind: 'ConfigMap', name: 'a' }, reason: 'Invalid' });
    fake.create('Event', { metadata: { name: 'e2', namespace: 'ns1' }, involvedObject: { kind: 'ConfigMap', name: 'b' }, reason: 'Invalid' });
    const events = await api.listNamespacedEvent({ namespace: 'ns1', fieldSelector: 'involvedObject.kind=ConfigMap,involvedObject.name=a' });
    expect(names(events.items)).toEqual(['e1']);
    const bad = await failureOf(api.listConfigMapForAllNamespaces({ fieldSelector: 'data.key=a' }));
    expect(bad).toMatchObject({ code: 400, body: { reason: 'BadRequest' } });
  });

  it('paginates with limit/continue over one consistent snapshot, and 410s an expired continue', async () => {
    const api = kc.makeApiClient(k8s.CoreV1Api);
    for (const name of ['c1', 'c2', 'c3', 'c4', 'c5']) fake.create('ConfigMap', cm(name));
    const first = await api.listNamespacedConfigMap({ namespace: 'default', limit: 2 });
    expect(names(first.items)).toEqual(['c1', 'c2']);
    expect(first.metadata?.remainingItemCount).toBe(3);
    expect(first.metadata?._continue).toBeTruthy();
    // Changes after the first page do not show in later pages: they are read at the first page's version.
    fake.remove('ConfigMap', cm('c3'));
    fake.create('ConfigMap', cm('c6'));
    const second = await api.listNamespacedConfigMap({ namespace: 'default', limit: 2, _continue: first.metadata?._continue ?? '' });
    expect(names(second.items)).toEqual(['c3', 'c4']);
    expect(second.metadata?.resourceVersion).toBe(first.metadata?.resourceVersion);
    const third = await api.listNamespacedConfigMap({ namespace: 'default', limit: 2, _continue: second.metadata?._continue ?? '' });
    expect(names(third.items)).toEqual(['c5']);
    expect(third.metadata?._continue).toBeUndefined();

    fake.expireHistory();
    const expired = await failureOf(api.listNamespacedConfigMap({ namespace: 'default', limit: 2, _continue: first.metadata?._continue ?? '' }));
    expect(expired).toMatchObject({ code: 410, body: { kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 } });
  });

  it('honours resourceVersion on lists: Exact reads an older state, too new is 504, compacted is 410', async () => {
    const api = kc.makeApiClient(k8s.CoreV1Api);
    fake.create('ConfigMap', cm('a'));
    const old = fake.resourceVersion();
    fake.create('ConfigMap', cm('b'));
    const exact = await api.listNamespacedConfigMap({ namespace: 'default', resourceVersion: old, resourceVersionMatch: 'Exact' });
    expect(names(exact.items)).toEqual(['a']);
    expect(exact.metadata?.resourceVersion).toBe(old);
    const notOlder = await api.listNamespacedConfigMap({ namespace: 'default', resourceVersion: old });
    expect(names(notOlder.items)).toEqual(['a', 'b']);
    const future = String(Number(fake.resourceVersion()) + 10);
    expect(await failureOf(api.listNamespacedConfigMap({ namespace: 'default', resourceVersion: future }))).toMatchObject({ code: 504, body: { reason: 'Timeout' } });
    fake.expireHistory();
    const gone = await failureOf(api.listNamespacedConfigMap({ namespace: 'default', resourceVersion: old, resourceVersionMatch: 'Exact' }));
    expect(gone).toMatchObject({ code: 410, body: { reason: 'Expired' } });
  });

  it('serves EndpointSlices under discovery.k8s.io/v1, cluster-wide and per namespace', async () => {
    const slice = (name: string, service: string, namespace: string): KubeObject => ({
      metadata: { name, namespace, labels: { 'kubernetes.io/service-name': service } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['127.0.0.11'], conditions: { ready: true } }],
      ports: [{ name: 'grpc', port: 8001 }],
    });
    fake.create('EndpointSlice', slice('triton-abc', 'triton', 'models'));
    fake.create('EndpointSlice', slice('tfs-abc', 'tfs', 'models'));
    fake.create('EndpointSlice', slice('triton-xyz', 'triton', 'other'));
    const api = kc.makeApiClient(k8s.DiscoveryV1Api);
    const all = await api.listEndpointSliceForAllNamespaces({ labelSelector: 'kubernetes.io/service-name=triton' });
    expect(names(all.items)).toEqual(['triton-abc', 'triton-xyz']);
    const inModels = await api.listNamespacedEndpointSlice({ namespace: 'models' });
    expect(names(inModels.items)).toEqual(['tfs-abc', 'triton-abc']);
    expect(inModels.items[0]?.endpoints?.[0]?.conditions?.ready).toBe(true);
  });
});

describe('informers (makeInformer: list, then watch)', () => {
  it('sees adds, updates and deletes, including objects entering and leaving the label selector', async () => {
    fake.create('ConfigMap', policy('p1'));
    fake.create('ConfigMap', cm('plain'));
    const { informer, seen } = await policyInformer();
    await seen.until((e) => e.verb === 'add' && e.name === 'p1', 'p1 from the list');
    expect(names(informer.list())).toEqual(['p1']);

    fake.create('ConfigMap', policy('p2'));
    await seen.until((e) => e.verb === 'add' && e.name === 'p2', 'p2 added');
    const p1 = fake.get('ConfigMap', 'default', 'p1');
    fake.update('ConfigMap', { ...p1!, data: { key: 'changed' } });
    await seen.until((e) => e.verb === 'update' && e.name === 'p1', 'p1 updated');
    expect(informer.get('p1', 'default')?.data).toEqual({ key: 'changed' });

    fake.update('ConfigMap', { ...cm('p2'), metadata: { name: 'p2', namespace: 'default', labels: {} } });
    const left = await seen.until((e) => e.verb === 'delete' && e.name === 'p2', 'p2 leaving the selector');
    expect(left.rv).toBe(fake.resourceVersion());
    fake.update('ConfigMap', policy('plain'));
    await seen.until((e) => e.verb === 'add' && e.name === 'plain', 'plain entering the selector');
    fake.remove('ConfigMap', p1!);
    await seen.until((e) => e.verb === 'delete' && e.name === 'p1', 'p1 deleted');
    expect(names(informer.list())).toEqual(['plain']);

    const watch = watches('/api/v1/configmaps').at(-1);
    expect(watch?.query).toMatchObject({ watch: 'true', labelSelector: POLICY });
    expect(Number(watch?.query['resourceVersion'])).toBeGreaterThan(0);
    expect(fake.activeWatches()).toBe(1);
  });

  it('resumes from its resourceVersion after the server ends the watch, without a gap or a re-list', async () => {
    fake.create('ConfigMap', policy('p1'));
    const { seen } = await policyInformer();
    const resumeFrom = fake.resourceVersion();
    expect(fake.closeWatches()).toBe(1);
    fake.create('ConfigMap', policy('p2')); // before the client can reconnect: only history can deliver it
    await seen.until((e) => e.verb === 'add' && e.name === 'p2', 'p2 after the reconnect');
    expect(lists('/api/v1/configmaps')).toHaveLength(1);
    expect(watches('/api/v1/configmaps').map((w) => w.query['resourceVersion'])).toEqual([resumeFrom, resumeFrom]);
  });

  it('reports a dropped connection as an error, and a restart resumes from the same resourceVersion', async () => {
    fake.create('ConfigMap', policy('p1'));
    const { informer, seen } = await policyInformer();
    informer.on(k8s.ERROR, () => void informer.start());
    expect(fake.closeWatches({ abrupt: true })).toBe(1);
    fake.create('ConfigMap', policy('p2'));
    await seen.until((e) => e.verb === 'error', 'the informer to report the reset');
    await seen.until((e) => e.verb === 'add' && e.name === 'p2', 'p2 after the restart');
    expect(lists('/api/v1/configmaps')).toHaveLength(1);
  });

  it('re-lists after a forced 410 Gone, and reconciles what changed meanwhile', async () => {
    fake.create('ConfigMap', policy('p1'));
    fake.create('ConfigMap', policy('p2'));
    const { informer, seen } = await policyInformer();
    fake.forceGoneOnNextWatch();
    fake.closeWatches();
    fake.remove('ConfigMap', policy('p1'));
    fake.create('ConfigMap', policy('p3'));
    await seen.until((e) => e.verb === 'delete' && e.name === 'p1', 'p1 deleted by the re-list');
    await seen.until((e) => e.verb === 'add' && e.name === 'p3', 'p3 added by the re-list');
    expect(lists('/api/v1/configmaps')).toHaveLength(2);
    expect(seen.seen.filter((e) => e.name === 'p2').map((e) => e.verb)).toEqual(['add']);
    expect(names(informer.list())).toEqual(['p2', 'p3']);
    await eventually(() => expect(fake.activeWatches()).toBe(1));
  });

  it('re-lists when its resourceVersion was compacted away while it was stopped', async () => {
    fake.create('ConfigMap', policy('p1'));
    const { informer, seen } = await policyInformer();
    await informer.stop();
    fake.create('ConfigMap', policy('p2'));
    fake.expireHistory();
    await within(informer.start(), 'the restart');
    await seen.until((e) => e.verb === 'add' && e.name === 'p2', 'p2 from the re-list');
    expect(lists('/api/v1/configmaps')).toHaveLength(2);
  });

  it('uses bookmarks when it asks for them: its resourceVersion advances past changes it does not select', async () => {
    class BookmarkingWatch extends k8s.Watch {
      readonly bookmarks = new Recorder<string>();
      override watch(...[path, query, callback, done]: Parameters<k8s.Watch['watch']>): Promise<AbortController> {
        return super.watch(path, { ...query, allowWatchBookmarks: true }, (phase, object, raw) => {
          if (phase === 'BOOKMARK') this.bookmarks.push(object.metadata.resourceVersion);
          callback(phase, object, raw);
        }, done);
      }
    }
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const watch = new BookmarkingWatch(kc);
    fake.create('ConfigMap', policy('p1'));
    const informer = new k8s.ListWatch('/api/v1/configmaps', watch, () => api.listConfigMapForAllNamespaces({ labelSelector: POLICY }), false, POLICY);
    const seen = recordInformer(informer);
    await within(informer.start(), 'the informer to start');
    cleanups.push(() => informer.stop());

    fake.create('ConfigMap', cm('unselected'));
    expect(informer.latestResourceVersion()).not.toBe(fake.resourceVersion());
    expect(fake.sendBookmarks()).toBe(1);
    const bookmark = await watch.bookmarks.until(() => true, 'a bookmark');
    expect(bookmark).toBe(fake.resourceVersion());
    expect(informer.latestResourceVersion()).toBe(bookmark);

    fake.closeWatches();
    fake.create('ConfigMap', policy('p2'));
    await seen.until((e) => e.verb === 'add' && e.name === 'p2', 'p2 after the reconnect');
    expect(watches('/api/v1/configmaps').at(-1)?.query).toMatchObject({ resourceVersion: bookmark, allowWatchBookmarks: 'true' });
    expect(seen.seen.filter((e) => e.verb === 'error')).toEqual([]);
  });

  it('keeps start() pending while lists are held (a slow initial list)', async () => {
    fake.create('ConfigMap', policy('p1'));
    const release = fake.holdLists();
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const informer = k8s.makeInformer(kc, '/api/v1/configmaps', () => api.listConfigMapForAllNamespaces({ labelSelector: POLICY }), POLICY);
    cleanups.push(() => informer.stop());
    let started = false;
    const starting = informer.start().then(() => (started = true));
    await eventually(() => expect(lists('/api/v1/configmaps')).toHaveLength(1));
    expect(started).toBe(false);
    expect(fake.activeWatches()).toBe(0);
    release();
    await within(starting, 'the held list to complete');
    expect(names(informer.list())).toEqual(['p1']);
  });
});

describe('raw watches (k8s.Watch)', () => {
  type Event = { type: string; object: KubeObject };

  async function watchRaw(path: string, query: Record<string, string | number | boolean>): Promise<{ events: Recorder<Event>; done: Promise<unknown> }> {
    const events = new Recorder<Event>();
    let finish: (error: unknown) => void = () => {};
    const done = new Promise<unknown>((resolve) => (finish = resolve));
    const controller = await new k8s.Watch(kc).watch(path, query, (type, object) => events.push({ type, object }), (error) => finish(error));
    cleanups.push(() => controller.abort());
    return { events, done };
  }

  it('starts with synthetic ADDED events for resourceVersion 0 or unset, and replays changes after an exact version', async () => {
    fake.create('ConfigMap', cm('a'));
    const from = fake.resourceVersion();
    fake.create('ConfigMap', cm('b'));
    const path = '/api/v1/namespaces/default/configmaps';
    for (const query of [{ resourceVersion: '0' }, {}] as Record<string, string>[]) {
      const { events } = await watchRaw(path, query);
      await events.until((e) => e.object.metadata.name === 'b', 'the synthetic ADDED of b');
      expect(events.seen.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED a', 'ADDED b']);
      expect(events.seen[0]?.object).toMatchObject({ kind: 'ConfigMap', apiVersion: 'v1' });
    }
    const { events } = await watchRaw(path, { resourceVersion: from });
    await events.until((e) => e.object.metadata.name === 'b', 'the replayed ADDED of b');
    expect(events.seen.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED b']);
  });

  it('sends DELETED when an object stops matching the selector and ADDED when it matches again', async () => {
    fake.create('ConfigMap', cm('a', { app: 'x' }));
    const { events } = await watchRaw('/api/v1/configmaps', { labelSelector: 'app=x', resourceVersion: fake.resourceVersion() });
    const moved = fake.update('ConfigMap', cm('a', { app: 'y' }));
    const deleted = await events.until((e) => e.type === 'DELETED', 'DELETED on leaving the selector');
    expect(deleted.object.metadata).toMatchObject({ name: 'a', labels: { app: 'x' }, resourceVersion: moved.metadata.resourceVersion });
    fake.update('ConfigMap', cm('a', { app: 'x' }));
    await events.until((e) => e.type === 'ADDED', 'ADDED on entering the selector');
    fake.update('ConfigMap', cm('a', { app: 'x', more: 'yes' }));
    await events.until((e) => e.type === 'MODIFIED', 'MODIFIED while matching');
    expect(events.seen.map((e) => e.type)).toEqual(['DELETED', 'ADDED', 'MODIFIED']);
  });

  it('answers a compacted resourceVersion with one ERROR event carrying a 410 Expired Status, then ends', async () => {
    fake.create('ConfigMap', cm('a'));
    const old = fake.resourceVersion();
    fake.create('ConfigMap', cm('b'));
    fake.expireHistory();
    const { events, done } = await watchRaw('/api/v1/configmaps', { resourceVersion: old });
    const error = await events.until((e) => e.type === 'ERROR', 'the ERROR event');
    expect(error.object).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `too old resource version: ${old} (${fake.resourceVersion()})`,
      reason: 'Expired',
      code: 410,
    });
    expect(await within(done, 'the stream to end')).toBeNull();
    expect(events.seen).toHaveLength(1);
  });

  it('ends the stream after timeoutSeconds', async () => {
    const { done } = await watchRaw('/api/v1/configmaps', { timeoutSeconds: 1 });
    expect(fake.activeWatches()).toBe(1);
    expect(await within(done, 'the server to end the watch')).toBeNull();
    expect(fake.activeWatches()).toBe(0);
  });

  it('sends periodic BOOKMARKs (kind, apiVersion and resourceVersion only) to watches that allow them', async () => {
    const ticking = await startFakeKube({ bookmarkIntervalMs: 20 });
    cleanups.push(() => ticking.close());
    kc = loadKubeConfig(ticking);
    const { events } = await watchRaw('/apis/discovery.k8s.io/v1/endpointslices', { allowWatchBookmarks: true });
    await events.until((e) => e.type === 'BOOKMARK', 'a first bookmark');
    await events.until((e) => e.type === 'BOOKMARK', 'a second bookmark', { from: 1 });
    expect(events.seen[0]?.object).toEqual({ kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: ticking.resourceVersion() } });
  });

  it('supports sendInitialEvents with a bookmark marking the end of the initial events', async () => {
    fake.create('ConfigMap', cm('a'));
    const query = { sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', allowWatchBookmarks: true, resourceVersion: '' };
    const { events } = await watchRaw('/api/v1/configmaps', query);
    const end = await events.until((e) => e.type === 'BOOKMARK', 'the initial-events-end bookmark');
    expect(end.object.metadata.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
    expect(events.seen.map((e) => e.type)).toEqual(['ADDED', 'BOOKMARK']);
  });
});

describe('writes', () => {
  it('creates and patches core/v1 Events (JSON patch by default, merge patch on request)', async () => {
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const now = new Date();
    const created = await api.createNamespacedEvent({
      namespace: 'models',
      body: {
        metadata: { generateName: 'triton-policy.' },
        involvedObject: { kind: 'ConfigMap', namespace: 'models', name: 'triton-policy', apiVersion: 'v1' },
        reason: 'InvalidPolicy',
        message: 'key policy.yaml: routes[0].weight: must be 0..100',
        type: 'Warning',
        count: 1,
        firstTimestamp: now,
        lastTimestamp: now,
        source: { component: 'infermesh' },
      },
    });
    const name = created.metadata.name ?? '';
    expect(name).toMatch(/^triton-policy\.[0-9a-f]{5}$/);
    await api.patchNamespacedEvent({ name, namespace: 'models', body: [{ op: 'replace', path: '/count', value: 2 }] });
    await api.patchNamespacedEvent(
      { name, namespace: 'models', body: { message: 'still invalid' } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    expect(fake.requests.filter((r) => r.method === 'PATCH').map((r) => r.contentType)).toEqual([
      'application/json-patch+json',
      'application/merge-patch+json',
    ]);
    expect(fake.events()).toMatchObject([{ metadata: { name }, count: 2, message: 'still invalid', reason: 'InvalidPolicy' }]);
  });

  it('stores events.k8s.io/v1 Events with the core ones, converting field names', async () => {
    const events = kc.makeApiClient(k8s.EventsV1Api);
    await events.createNamespacedEvent({
      namespace: 'models',
      body: {
        metadata: { name: 'recovered' },
        eventTime: new Date(),
        regarding: { kind: 'ConfigMap', namespace: 'models', name: 'triton-policy' },
        reason: 'PolicyValid',
        note: 'policy accepted again',
        type: 'Normal',
        action: 'Reconcile',
        reportingController: 'infermesh.io/control-plane',
        reportingInstance: 'infermesh-0',
      },
    });
    expect(fake.events()).toMatchObject([
      { apiVersion: 'v1', involvedObject: { name: 'triton-policy' }, message: 'policy accepted again', reportingComponent: 'infermesh.io/control-plane' },
    ]);
    const core = await kc.makeApiClient(k8s.CoreV1Api).readNamespacedEvent({ name: 'recovered', namespace: 'models' });
    expect(core.message).toBe('policy accepted again');
    const back = await events.readNamespacedEvent({ name: 'recovered', namespace: 'models' });
    expect(back.note).toBe('policy accepted again');
  });

  it('fails writes of one kind on demand, with the Status a real server would send', async () => {
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const event = { metadata: { name: 'e' }, involvedObject: { kind: 'ConfigMap', name: 'x' }, reason: 'R' };
    const restore = fake.failWrites('Event', 500);
    expect(await failureOf(api.createNamespacedEvent({ namespace: 'models', body: event }))).toMatchObject({ code: 500, body: { reason: 'InternalError' } });
    restore();
    const restoreForbidden = fake.failWrites('Event', 403);
    expect(await failureOf(api.createNamespacedEvent({ namespace: 'models', body: event }))).toMatchObject({ code: 403, body: { reason: 'Forbidden' } });
    await api.createNamespacedConfigMap({ namespace: 'models', body: { metadata: { name: 'unaffected' } } });
    restoreForbidden();
    await api.createNamespacedEvent({ namespace: 'models', body: event });
    expect(names(fake.events())).toEqual(['e']);
  });

  it('creates, reads and replaces Leases with optimistic concurrency (409 on a stale resourceVersion)', async () => {
    const api = kc.makeApiClient(k8s.CoordinationV1Api);
    const namespace = 'infermesh';
    const body = { metadata: { name: 'infermesh-events' }, spec: { holderIdentity: 'pod-a', leaseDurationSeconds: 15, renewTime: new Date() } };
    await api.createNamespacedLease({ namespace, body });
    expect(await failureOf(api.createNamespacedLease({ namespace, body }))).toMatchObject({
      code: 409,
      body: { reason: 'AlreadyExists', details: { name: 'infermesh-events', group: 'coordination.k8s.io', kind: 'leases' } },
    });
    const read = await api.readNamespacedLease({ name: 'infermesh-events', namespace });
    const replaced = await api.replaceNamespacedLease({
      name: 'infermesh-events',
      namespace,
      body: { ...read, spec: { ...read.spec, holderIdentity: 'pod-b' } },
    });
    expect(Number(replaced.metadata?.resourceVersion)).toBeGreaterThan(Number(read.metadata?.resourceVersion));
    const stale = await failureOf(api.replaceNamespacedLease({ name: 'infermesh-events', namespace, body: read }));
    expect(stale).toMatchObject({ code: 409, body: { reason: 'Conflict' } });
    expect(String(stale.body['message'])).toContain('the object has been modified');
    expect(fake.leases()).toMatchObject([{ spec: { holderIdentity: 'pod-b' } }]);
    expect(await failureOf(api.readNamespacedLease({ name: 'missing', namespace }))).toMatchObject({ code: 404, body: { reason: 'NotFound' } });
  });

  it('deletes with a Success Status, keeps the resourceVersion on a no-op update, and 404s what is gone', async () => {
    const api = kc.makeApiClient(k8s.CoreV1Api);
    const created = await api.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'c' }, data: { a: '1' } } });
    const same = await api.replaceNamespacedConfigMap({ name: 'c', namespace: 'default', body: created });
    expect(same.metadata?.resourceVersion).toBe(created.metadata?.resourceVersion);
    const status = await api.deleteNamespacedConfigMap({ name: 'c', namespace: 'default' });
    expect(status).toMatchObject({ status: 'Success', details: { name: 'c', kind: 'configmaps' } });
    expect(await failureOf(api.deleteNamespacedConfigMap({ name: 'c', namespace: 'default' }))).toMatchObject({ code: 404 });
    expect(await failureOf(api.replaceNamespacedConfigMap({ name: 'c', namespace: 'default', body: created }))).toMatchObject({ code: 404 });
  });
});
