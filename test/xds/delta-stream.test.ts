import { beforeAll, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS, type ResourceKind } from '../../src/envoy/type-urls.ts';
import type { EncodedResource } from '../../src/snapshot/codec.ts';
import { fakeSnapshot } from '../support/snapshots.ts';
import { deltaRequestDecoder, encodeDeltaDiscoveryResponse, encodeDeltaResource, type DeltaDiscoveryRequest } from '../../src/xds/delta-messages.ts';
import { DeltaStream, type DeltaPush } from '../../src/xds/delta-stream.ts';
import type { NackRecord } from '../../src/xds/client-view.ts';

const snapshot = fakeSnapshot;

function request(kind: ResourceKind, overrides: Partial<DeltaDiscoveryRequest> = {}): DeltaDiscoveryRequest {
  return { typeUrl: TYPE_URLS[kind], resourceNamesSubscribe: [], resourceNamesUnsubscribe: [], initialResourceVersions: new Map(), responseNonce: '', ...overrides };
}

function ack(push: DeltaPush, overrides: Partial<DeltaDiscoveryRequest> = {}): DeltaDiscoveryRequest {
  return request(push.kind, { responseNonce: push.nonce, ...overrides });
}

function harness() {
  const pushes: DeltaPush[] = [];
  const nacks: NackRecord[] = [];
  const acks: string[] = [];
  const ignored: string[] = [];
  const bytes: number[] = [];
  const stream = new DeltaStream('1', (push) => void pushes.push(push), {
    push: (_kind, _count, size) => bytes.push(size),
    ack: (_kind, _node, version) => acks.push(version),
    nack: (_kind, _node, nack) => nacks.push(nack),
    ignored: (reason) => ignored.push(reason),
  }, () => new Date(0));
  return { stream, pushes, nacks, acks, ignored, bytes };
}

/** Name -> version of a resource map. */
function versions(resources: ReadonlyMap<string, EncodedResource> | undefined): Record<string, string> {
  return Object.fromEntries([...(resources ?? [])].map(([name, r]) => [name, r.version]));
}

/** What a push carries, readable: "name=content" per resource, then "-name" per removal. */
function contents(push: DeltaPush | undefined): string[] {
  return [...(push?.resources ?? []).map((r) => Buffer.from(r.any).toString()), ...(push?.removed ?? []).map((name) => `-${name}`)];
}

const world = snapshot('1', {
  cluster: [['a', '1'], ['b', '1']],
  endpoint: [['a', '1'], ['b', '1']],
  listener: [['sidecar', '1'], ['infermesh', '1']],
  route: [['infermesh', '1']],
}, ['listener/infermesh']);

describe('DeltaStream', () => {
  it('answers a first LDS request naming nothing as wildcard, hiding the API listener', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('listener'), world);
    expect(pushes.map(contents)).toEqual([['sidecar=1']]);
    expect(stream.syncState().get('listener')?.subscription).toBe('wildcard');
  });

  it('sends a hidden resource to a client that names it, also alongside a wildcard subscription', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('listener', { resourceNamesSubscribe: ['infermesh'] }), world);
    expect(contents(pushes[0])).toEqual(['infermesh=1']);
    stream.onRequest(ack(pushes[0]!, { resourceNamesSubscribe: ['*'] }), world);
    expect(contents(pushes[1])).toEqual(['sidecar=1']);
    // Unsubscribing a name while wildcard: wildcard does not cover it, so it is reported removed.
    stream.onRequest(ack(pushes[1]!, { resourceNamesUnsubscribe: ['infermesh'] }), world);
    expect(contents(pushes[2])).toEqual(['-infermesh']);
  });

  it('keeps the legacy wildcard when names are added, and the names when "*" is dropped', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('cluster'), world);
    stream.onRequest(ack(pushes[0]!, { resourceNamesSubscribe: ['a'] }), world);
    expect(contents(pushes[1])).toEqual(['a=1']);
    stream.onRequest(ack(pushes[1]!, { resourceNamesUnsubscribe: ['*'] }), world);
    expect(pushes).toHaveLength(2);
    expect(stream.syncState().get('cluster')?.subscription).toEqual(new Set(['a']));
    stream.onSnapshot(snapshot('2', { cluster: [['a', '1'], ['b', '2']] }));
    expect(pushes).toHaveLength(2);
  });

  it('subscribes and unsubscribes named resources, sending only the newly named ones', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['a'] }), world);
    stream.onRequest(ack(pushes[0]!, { resourceNamesSubscribe: ['b'] }), world);
    expect(pushes.map(contents)).toEqual([['a=1'], ['b=1']]);
    stream.onRequest(ack(pushes[1]!, { resourceNamesUnsubscribe: ['a'] }), world);
    expect(pushes).toHaveLength(2);
    stream.onSnapshot(snapshot('2', { endpoint: [['a', '2'], ['b', '1']] }));
    expect(pushes).toHaveLength(2);
  });

  it('resends a resource named again even when the client should have it', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['a'] }), world);
    stream.onRequest(ack(pushes[0]!, { resourceNamesSubscribe: ['a'] }), world);
    expect(pushes.map(contents)).toEqual([['a=1'], ['a=1']]);
  });

  it('on a new snapshot pushes only the resources that changed, then removals', () => {
    const { stream, pushes, bytes } = harness();
    const many = (content: (i: number) => string) => Array.from({ length: 500 }, (_, i): [string, string] => [`m${i}`, content(i)]);
    stream.onRequest(request('cluster'), snapshot('1', { cluster: many(() => '1') }));
    stream.onSnapshot(snapshot('2', { cluster: many((i) => (i === 7 ? '2' : '1')) }));
    expect(pushes.map(contents)).toEqual([many(() => '1').map(([n, c]) => `${n}=${c}`), ['m7=2']]);
    expect(bytes[1]).toBe('m7=2'.length);
    stream.onSnapshot(snapshot('3', { cluster: many((i) => (i === 7 ? '2' : '1')).slice(1) }));
    expect(contents(pushes[2])).toEqual(['-m0']);
    expect(pushes[2]?.version).toBe('3');
  });

  it('orders the pushes of one snapshot CDS, EDS, LDS, RDS', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('route', { resourceNamesSubscribe: ['infermesh'] }), world);
    stream.onRequest(request('listener'), world);
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['a'] }), world);
    stream.onRequest(request('cluster'), world);
    pushes.length = 0;
    stream.onSnapshot(snapshot('2', { cluster: [['a', '2']], endpoint: [['a', '2']], listener: [['sidecar', '2']], route: [['infermesh', '2']] }));
    expect(pushes.map((p) => p.kind)).toEqual(['cluster', 'endpoint', 'listener', 'route']);
  });

  it('on reconnect sends only what differs from initial_resource_versions and removes what is gone', () => {
    const { stream, pushes } = harness();
    const initialResourceVersions = new Map([['a', 'a:1'], ['b', 'b:0'], ['gone', 'gone:1']]);
    stream.onRequest(request('cluster', { initialResourceVersions }), world);
    expect(pushes.map(contents)).toEqual([['b=1', '-gone']]);
  });

  it('sends nothing on reconnect when the client already has everything, and counts it as synced', () => {
    const { stream, pushes } = harness();
    const initialResourceVersions = new Map([['a', 'a:1']]);
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['a'], initialResourceVersions }), world);
    expect(pushes).toEqual([]);
    expect(stream.syncState().get('endpoint')?.syncedThrough).toBe(1);
    expect(versions(stream.syncState().get('endpoint')?.ackedResources)).toEqual({ a: 'a:1' });
  });

  it('reports names that do not exist in removed_resources once, and sends them when they appear', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['a', 'missing'] }), world);
    expect(contents(pushes[0])).toEqual(['a=1', '-missing']);
    stream.onRequest(ack(pushes[0]!), world);
    stream.onSnapshot(snapshot('2', { endpoint: [['a', '1'], ['b', '2']] }));
    expect(pushes).toHaveLength(1);
    stream.onSnapshot(snapshot('3', { endpoint: [['a', '1'], ['missing', '1']] }));
    expect(contents(pushes[1])).toEqual(['missing=1']);
  });

  it('records ACKed versions and advances syncedThrough, also for snapshots that change nothing here', () => {
    const { stream, pushes, acks } = harness();
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['a'] }), world);
    expect(stream.syncState().get('endpoint')?.syncedThrough).toBeUndefined();
    stream.onRequest(ack(pushes[0]!), world);
    expect(acks).toEqual(['1']);
    expect(stream.syncState().get('endpoint')).toMatchObject({ ackedVersion: '1', syncedThrough: 1 });
    expect(versions(stream.syncState().get('endpoint')?.ackedResources)).toEqual({ a: 'a:1' });
    stream.onSnapshot(snapshot('2', { endpoint: [['a', '1'], ['b', '2']] }));
    expect(pushes).toHaveLength(1);
    expect(stream.syncState().get('endpoint')?.syncedThrough).toBe(2);
  });

  it('accumulates the ACKs of several responses in flight', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('cluster'), world);
    const next = snapshot('2', { cluster: [['a', '1'], ['b', '2']] });
    stream.onSnapshot(next);
    stream.onRequest(ack(pushes[0]!), next);
    expect(stream.syncState().get('cluster')?.syncedThrough).toBeUndefined();
    stream.onRequest(ack(pushes[1]!), next);
    expect(stream.syncState().get('cluster')?.syncedThrough).toBe(2);
    expect(versions(stream.syncState().get('cluster')?.ackedResources)).toEqual({ a: 'a:1', b: 'b:2' });
  });

  it('never moves a client back to an older snapshot handed to onRequest', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('cluster'), world);
    stream.onSnapshot(snapshot('2', { cluster: [['a', '1'], ['b', '2']] }));
    stream.onRequest(ack(pushes[1]!), world);
    expect(pushes).toHaveLength(2);
  });

  it('records a NACK, never answers it with a push, and retries the rejected resources with the next change', () => {
    const { stream, pushes, nacks } = harness();
    stream.onRequest(request('cluster'), world);
    const sent = pushes[0]!;
    const nack = ack(sent, { errorDetail: { code: 3, message: 'bad cluster b' } });
    for (let i = 0; i < 3; i += 1) stream.onRequest(nack, world);
    expect(pushes).toHaveLength(1);
    expect(nacks).toHaveLength(1);
    expect(nacks[0]).toMatchObject({ nonce: sent.nonce, version: '1', sequence: 1, message: 'bad cluster b' });
    const state = () => stream.syncState().get('cluster')!;
    expect(state()?.standingNack?.message).toBe('bad cluster b');
    expect(versions(state().ackedResources)).toEqual({});
    stream.onSnapshot(snapshot('2', { cluster: [['a', '1'], ['b', '1']], endpoint: [['a', '2']] }));
    expect(pushes).toHaveLength(1);
    expect(state().syncedThrough).toBeUndefined();
    const fixed = snapshot('3', { cluster: [['a', '1'], ['b', 'fixed']] });
    stream.onSnapshot(fixed);
    expect(contents(pushes[1])).toEqual(['b=fixed', 'a=1']);
    stream.onRequest(ack(pushes[1]!), fixed);
    expect(state()?.standingNack).toBeUndefined();
    expect(state().syncedThrough).toBe(3);
    expect(versions(state().ackedResources)).toEqual({ a: 'a:1', b: 'b:fixed' });
  });

  it('applies subscription changes carried by a stale nonce, without recording an ACK', () => {
    const { stream, pushes, acks, ignored } = harness();
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['a'] }), world);
    stream.onRequest(ack(pushes[0]!), world);
    stream.onRequest(ack(pushes[0]!, { resourceNamesSubscribe: ['b'] }), world);
    expect(acks).toHaveLength(1);
    expect(ignored[0]).toContain('stale or unknown nonce');
    expect(contents(pushes[1])).toEqual(['b=1']);
  });

  it('subscribes any type by "*", and bounds what a client that never answers costs', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['*'] }), world);
    expect(contents(pushes[0])).toEqual(['a=1', 'b=1']);
    let latest = world;
    for (let i = 2; i <= 40; i += 1) stream.onSnapshot((latest = snapshot(String(i), { endpoint: [['a', String(i)]] })));
    expect(pushes).toHaveLength(40);
    stream.onRequest(ack(pushes[39]!), latest);
    expect(stream.syncState().get('endpoint')?.syncedThrough).toBe(40);
    expect(versions(stream.syncState().get('endpoint')?.ackedResources)).toEqual({ a: 'a:40' });
  });

  it('never pushes an empty response', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint'), world);
    stream.onRequest(request('route', { resourceNamesSubscribe: ['infermesh'] }), world);
    stream.onRequest(ack(pushes[0]!, { resourceNamesUnsubscribe: ['infermesh', 'never-named'] }), world);
    stream.onSnapshot(world);
    stream.onSnapshot(snapshot('2', { endpoint: [['z', '1']], route: [['infermesh', '2']] }));
    expect(pushes.map(contents)).toEqual([['infermesh=1']]);
  });

  it('waits for the first snapshot instead of sending an empty world, and ignores types it does not serve', () => {
    const { stream, pushes, ignored } = harness();
    stream.onRequest(request('cluster'), undefined);
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['a'] }), undefined);
    expect(pushes).toEqual([]);
    stream.onSnapshot(world);
    expect(pushes.map(contents)).toEqual([['a=1', 'b=1'], ['a=1']]);
    stream.onRequest({ ...request('cluster'), typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret' }, world);
    expect(ignored).toHaveLength(1);
  });
});

describe('DeltaStream with a transport that takes time to write', () => {
  it('holds snapshots published while a response is being written, then sends one diff to the latest', async () => {
    const pushes: DeltaPush[] = [];
    const writes: (() => void)[] = [];
    const send = (push: DeltaPush) => {
      pushes.push(push);
      return new Promise<void>((resolve) => writes.push(resolve));
    };
    const stream = new DeltaStream('1', send, { push: () => {}, ack: () => {}, nack: () => {}, ignored: () => {} }, () => new Date(0));
    stream.onRequest(request('endpoint', { resourceNamesSubscribe: ['a', 'b'] }), world);
    stream.onSnapshot(snapshot('2', { endpoint: [['a', '2'], ['b', '1']] }));
    stream.onSnapshot(snapshot('3', { endpoint: [['a', '2'], ['b', '3']] }));
    expect(pushes.map(contents)).toEqual([['a=1', 'b=1']]);
    writes.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pushes.map((push) => [push.version, contents(push)])).toEqual([['1', ['a=1', 'b=1']], ['3', ['a=2', 'b=3']]]);
    // A request's answer waits behind the response in flight too (one at a time per stream), then goes out.
    stream.onRequest(ack(pushes[1]!, { resourceNamesSubscribe: ['c'] }), snapshot('4', { endpoint: [['a', '2'], ['b', '3'], ['c', '4']] }));
    expect(pushes).toHaveLength(2);
    writes.shift()?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(pushes.map(contents).at(-1)).toEqual(['c=4']);
  });
});


describe('DeltaStream backpressure: one response in flight per stream, at most one waiting per type', () => {
  it('a client that stops reading during churn and resubscriptions costs one response in flight, then gets one per type in make-before-break order', async () => {
    const pushes: DeltaPush[] = [];
    let release: (() => void) | undefined;
    const send = (push: DeltaPush) => {
      pushes.push(push);
      return new Promise<void>((resolve) => (release = resolve));
    };
    const stream = new DeltaStream('1', send, { push: () => {}, ack: () => {}, nack: () => {}, ignored: () => {} }, () => new Date(0));
    const at = (n: number) => snapshot(String(n), { cluster: [['a', String(n)], ['b', '1']], endpoint: [['a', String(n)], ['b', String(n)]], route: [['r', String(n)]] });
    stream.onRequest(request('cluster', { resourceNamesSubscribe: ['*'] }), at(1));
    expect(pushes).toHaveLength(1);
    // The transport never takes that response: 200 snapshots and requests of other types pile up.
    for (let n = 2; n <= 200; n++) {
      stream.onSnapshot(at(n));
      if (n % 20 === 0) stream.onRequest(request(n % 40 === 0 ? 'endpoint' : 'route', { resourceNamesSubscribe: n % 40 === 0 ? ['a', 'b'] : ['r'] }), at(n));
    }
    expect(pushes).toHaveLength(1);
    const waiting = [...stream.syncState().values()].filter((state) => state.unsent !== undefined);
    expect(waiting.map((state) => state.unsent!.resources.size).every((size) => size <= 2)).toBe(true);
    // Nothing waiting counts as accepted.
    expect(versions(stream.syncState().get('endpoint')?.ackedResources)).toEqual({});
    const drain = async () => {
      while (release) {
        const r = release;
        release = undefined;
        r();
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await drain();
    expect(pushes.slice(1).map((push) => [push.kind, contents(push)])).toEqual([
      ['cluster', ['a=200']],
      ['endpoint', ['a=200', 'b=200']],
      ['route', ['r=200']],
    ]);
  });
});

describe('delta messages', () => {
  let root: ReturnType<typeof loadEnvoyProtos>;
  beforeAll(() => {
    root = loadEnvoyProtos();
  });

  it('decodes a DeltaDiscoveryRequest into camelCase fields', () => {
    const type = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    const bytes = Buffer.from(type.encode(type.fromObject({
      node: { id: 'pod.ns', cluster: 'ns' },
      type_url: TYPE_URLS.endpoint,
      resource_names_subscribe: ['a', 'b'],
      resource_names_unsubscribe: ['c'],
      initial_resource_versions: { a: 'v1' },
      response_nonce: '7',
      error_detail: { code: 3, message: 'bad' },
    })).finish());
    const decoded = deltaRequestDecoder(root)(bytes);
    expect(decoded).toMatchObject({ typeUrl: TYPE_URLS.endpoint, resourceNamesSubscribe: ['a', 'b'], resourceNamesUnsubscribe: ['c'], responseNonce: '7', errorDetail: { code: 3, message: 'bad' } });
    expect(decoded.initialResourceVersions).toEqual(new Map([['a', 'v1']]));
    expect(decoded.node).toMatchObject({ id: 'pod.ns', pod: 'pod', namespace: 'ns' });
  });

  it('encodes a DeltaDiscoveryResponse that Envoy\'s own type decodes, from parts or cached Resource bytes', () => {
    const cla = root.lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');
    const any = (name: string) => Buffer.from(root.lookupType('google.protobuf.Any').encode({ type_url: TYPE_URLS.endpoint, value: cla.encode(cla.fromObject({ cluster_name: name })).finish() }).finish());
    const bytes = encodeDeltaDiscoveryResponse({
      systemVersionInfo: '42',
      resources: [{ name: 'a', version: 'va', any: any('a') }, encodeDeltaResource('b', 'vb', any('b'))],
      typeUrl: TYPE_URLS.endpoint,
      removed: ['gone'],
      nonce: '9',
      controlPlaneId: 'infermesh-0',
    });
    const type = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    const decoded = type.toObject(type.decode(bytes), { arrays: true }) as Record<string, unknown>;
    expect(decoded).toMatchObject({
      system_version_info: '42',
      type_url: TYPE_URLS.endpoint,
      removed_resources: ['gone'],
      nonce: '9',
      control_plane: { identifier: 'infermesh-0' },
      resources: [{ name: 'a', version: 'va', resource: { type_url: TYPE_URLS.endpoint } }, { name: 'b', version: 'vb' }],
    });
    const resources = decoded['resources'] as { resource: { value: Uint8Array } }[];
    expect(cla.toObject(cla.decode(resources[1]!.resource.value))).toEqual({ cluster_name: 'b' });
  });
});
