import { describe, expect, it } from 'vitest';
import { TYPE_URLS, type ResourceKind } from '../../src/envoy/type-urls.ts';
import { fakeSnapshot } from '../support/snapshots.ts';
import type { DiscoveryRequest } from '../../src/xds/messages.ts';
import type { NackRecord } from '../../src/xds/client-view.ts';
import { SotwStream, mergePushes, type Push } from '../../src/xds/sotw-stream.ts';

const snapshot = fakeSnapshot;

function request(kind: ResourceKind, overrides: Partial<DiscoveryRequest> = {}): DiscoveryRequest {
  return { versionInfo: '', resourceNames: [], typeUrl: TYPE_URLS[kind], responseNonce: '', ...overrides };
}

function harness() {
  const pushes: Push[] = [];
  const nacks: NackRecord[] = [];
  const acks: string[] = [];
  const ignored: string[] = [];
  const stream = new SotwStream('1', (push) => pushes.push(push), {
    push: () => {},
    ack: (_kind, _node, version) => acks.push(version),
    nack: (_kind, _node, nack) => nacks.push(nack),
    ignored: (reason) => ignored.push(reason),
  }, () => new Date(0));
  return { stream, pushes, nacks, acks, ignored };
}

const world = snapshot('1', {
  cluster: [['a', '1'], ['b', '1']],
  endpoint: [['a', '1'], ['b', '1']],
  listener: [['sidecar', '1'], ['infermesh', '1']],
  route: [['infermesh', '1']],
}, ['listener/infermesh']);

describe('SotwStream', () => {
  it('answers the first request of a type with every wildcard resource, hiding the API listener from wildcard', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('listener'), world);
    expect(pushes).toHaveLength(1);
    expect(pushes[0]?.resources.map((b) => Buffer.from(b).toString())).toEqual(['sidecar=1']);
  });

  it('sends the API listener to a client that names it', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('listener', { resourceNames: ['infermesh'] }), world);
    expect(pushes[0]?.resources.map((b) => Buffer.from(b).toString())).toEqual(['infermesh=1']);
  });

  it('sends only the named EDS resources, and an empty set for no names', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint', { resourceNames: ['b', 'missing'] }), world);
    expect(pushes[0]?.resources.map((b) => Buffer.from(b).toString())).toEqual(['b=1']);
  });

  it('records an ACK without pushing again', () => {
    const { stream, pushes, acks } = harness();
    stream.onRequest(request('cluster'), world);
    const sent = pushes[0]!;
    stream.onRequest(request('cluster', { versionInfo: sent.version, responseNonce: sent.nonce }), world);
    expect(pushes).toHaveLength(1);
    expect(acks).toEqual([sent.version]);
    expect(stream.syncState().get('cluster')?.ackedVersion).toBe(sent.version);
  });

  it('records a NACK with its detail and never answers it with a push', () => {
    const { stream, pushes, nacks } = harness();
    stream.onRequest(request('cluster'), world);
    const sent = pushes[0]!;
    for (let i = 0; i < 3; i += 1) {
      stream.onRequest(request('cluster', { versionInfo: '', responseNonce: sent.nonce, errorDetail: { code: 3, message: 'bad cluster a' } }), world);
    }
    expect(pushes).toHaveLength(1);
    expect(nacks).toHaveLength(3);
    expect(nacks[0]).toMatchObject({ nonce: sent.nonce, version: sent.version, message: 'bad cluster a' });
    expect(stream.syncState().get('cluster')?.lastNack?.message).toBe('bad cluster a');
  });

  it('ignores requests carrying a stale nonce', () => {
    const { stream, pushes, ignored } = harness();
    stream.onRequest(request('endpoint', { resourceNames: ['a'] }), world);
    stream.onSnapshot(snapshot('2', { endpoint: [['a', '2']] }));
    expect(pushes).toHaveLength(2);
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'], responseNonce: pushes[0]!.nonce }), world);
    expect(pushes).toHaveLength(2);
    expect(ignored[0]).toContain('stale nonce');
  });

  it('pushes again when the subscription changes', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint', { resourceNames: ['a'] }), world);
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'], responseNonce: pushes[0]!.nonce, versionInfo: pushes[0]!.version }), world);
    expect(pushes).toHaveLength(2);
    expect(pushes[1]?.resources).toHaveLength(2);
  });

  it('does not answer the same request again in full: 100 repeats without a nonce draw no response', () => {
    const { stream, pushes, ignored } = harness();
    stream.onRequest(request('cluster'), world);
    for (let i = 0; i < 100; i++) stream.onRequest(request('cluster'), world);
    expect(pushes).toHaveLength(1);
    expect(ignored).toHaveLength(100);
    expect(ignored[0]).toContain('repeated request');
    // What changed since is still sent, once.
    stream.onRequest(request('cluster'), snapshot('2', { cluster: [['a', '2'], ['b', '1']] }));
    expect(pushes.map((p) => p.version)).toHaveLength(2);
  });

  it('ends the wildcard on an empty list after an explicit "*" (spec), answering with no clusters', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('cluster', { resourceNames: ['*'] }), world);
    stream.onRequest(request('cluster', { resourceNames: [], responseNonce: pushes[0]!.nonce, versionInfo: pushes[0]!.version }), world);
    expect(pushes.map((p) => p.names)).toEqual([['a', 'b'], []]);
    expect(stream.syncState().get('cluster')?.subscription).toEqual(new Set());
  });

  it('on a new snapshot pushes only the types whose selected resources changed', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('cluster'), world);
    stream.onRequest(request('endpoint', { resourceNames: ['a'] }), world);
    pushes.length = 0;
    const next = snapshot('2', {
      cluster: [['a', '1'], ['b', '1']],
      endpoint: [['a', '1'], ['b', '2']],
      listener: [['sidecar', '1']],
      route: [['infermesh', '1']],
    });
    stream.onSnapshot(next);
    expect(pushes).toEqual([]);
    stream.onSnapshot(snapshot('3', { cluster: [['a', '1'], ['b', '1']], endpoint: [['a', '2']] }));
    expect(pushes.map((p) => p.kind)).toEqual(['endpoint']);
  });

  it('waits for the first snapshot instead of sending an empty world', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('cluster'), undefined);
    expect(pushes).toEqual([]);
    stream.onSnapshot(world);
    expect(pushes).toHaveLength(1);
  });

  it('ignores types it does not serve', () => {
    const { stream, pushes, ignored } = harness();
    stream.onRequest({ versionInfo: '', resourceNames: [], typeUrl: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', responseNonce: '' }, world);
    expect(pushes).toEqual([]);
    expect(ignored).toHaveLength(1);
  });

  it('once a response is accepted sends only the EDS and RDS resources that changed, but always all clusters and listeners', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('cluster'), world);
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'] }), world);
    expect(pushes.map((p) => [p.kind, p.names, p.partial])).toEqual([['cluster', ['a', 'b'], false], ['endpoint', ['a', 'b'], false]]);
    stream.onRequest(request('cluster', { versionInfo: pushes[0]!.version, responseNonce: pushes[0]!.nonce }), world);
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'], versionInfo: pushes[1]!.version, responseNonce: pushes[1]!.nonce }), world);
    pushes.length = 0;
    stream.onSnapshot(snapshot('2', { cluster: [['a', '2'], ['b', '1']], endpoint: [['a', '1'], ['b', '2']] }));
    expect(pushes.map((p) => [p.kind, p.names, p.partial])).toEqual([['cluster', ['a', 'b'], false], ['endpoint', ['b'], true]]);
    expect(pushes[1]?.resources.map((b) => Buffer.from(b).toString())).toEqual(['b=2']);
    expect([...(stream.syncState().get('endpoint')?.sentResources.keys() ?? [])]).toEqual(['a', 'b']);
  });

  it('keeps changes relative to what the client accepted: a refused or unanswered response is sent again', () => {
    const { stream, pushes } = harness();
    const ack = (push: Push) => stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'], versionInfo: push.version, responseNonce: push.nonce }), undefined);
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'] }), world);
    ack(pushes[0]!);
    stream.onSnapshot(snapshot('2', { endpoint: [['a', '2'], ['b', '1']] }));
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'], versionInfo: pushes[0]!.version, responseNonce: pushes[1]!.nonce, errorDetail: { code: 3, message: 'bad a' } }), undefined);
    stream.onSnapshot(snapshot('3', { endpoint: [['a', '2'], ['b', '3']] }));
    stream.onSnapshot(snapshot('4', { endpoint: [['a', '2'], ['b', '4']] }));
    expect(pushes.map((p) => p.names)).toEqual([['a', 'b'], ['a'], ['a', 'b'], ['a', 'b']]);
    ack(pushes[3]!);
    stream.onSnapshot(snapshot('5', { endpoint: [['a', '5'], ['b', '4']] }));
    expect(pushes[4]?.names).toEqual(['a']);
  });

  it('stays relative to what the client accepted across snapshots that change nothing for it', () => {
    const { stream, pushes } = harness();
    const ack = (push: Push) => stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'], versionInfo: push.version, responseNonce: push.nonce }), undefined);
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'] }), world);
    stream.onSnapshot(snapshot('2', { cluster: [['a', '2']], endpoint: [['a', '1'], ['b', '1']] }));
    ack(pushes[0]!);
    stream.onSnapshot(snapshot('3', { endpoint: [['a', '1'], ['b', '3']] }));
    stream.onSnapshot(snapshot('4', { cluster: [['a', '4']], endpoint: [['a', '1'], ['b', '3']] }));
    stream.onSnapshot(snapshot('5', { endpoint: [['a', '5'], ['b', '3']] }));
    // The response from 3 was never answered, so b goes again with a.
    expect(pushes.map((p) => [p.names, p.partial])).toEqual([[['a', 'b'], false], [['b'], true], [['a', 'b'], true]]);
    ack(pushes[2]!);
    stream.onSnapshot(snapshot('6', { cluster: [['a', '6']], endpoint: [['a', '5'], ['b', '3']] }));
    stream.onSnapshot(snapshot('7', { endpoint: [['a', '5'], ['b', '7']] }));
    expect(pushes[3]?.names).toEqual(['b']);
    expect(stream.syncState().get('endpoint')?.ackedResources.get('a')?.version).toBe('a:5');
  });

  it('sends nothing when EDS resources were only removed, and counts an in-sync client as synced', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'] }), world);
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'], versionInfo: pushes[0]!.version, responseNonce: pushes[0]!.nonce }), world);
    stream.onSnapshot(snapshot('2', { endpoint: [['a', '1']] }));
    expect(pushes).toHaveLength(1);
    expect(stream.syncState().get('endpoint')?.syncedThrough).toBe(2);
    stream.onSnapshot(snapshot('3', { endpoint: [['a', '3']] }));
    expect(pushes.map((p) => p.names)).toEqual([['a', 'b'], ['a']]);
  });
});

describe('SotwStream on reconnect', () => {
  it('resends nothing to a client that names the version it already runs, and counts it as in sync', () => {
    const before = harness();
    before.stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'] }), world);
    const held = before.pushes[0]!.version;
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint', { resourceNames: ['b', 'a'], versionInfo: held }), world);
    expect(pushes).toEqual([]);
    expect(stream.syncState().get('endpoint')).toMatchObject({ ackedVersion: held, syncedThrough: 1 });
    stream.onSnapshot(snapshot('2', { endpoint: [['a', '2'], ['b', '1']] }));
    expect(pushes.map((p) => [p.names, p.partial])).toEqual([[['a'], true]]);
  });

  it('a client that reconnects before the first snapshot (a replica still starting) is compared with it, not resent', () => {
    const before = harness();
    before.stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'] }), world);
    const held = before.pushes[0]!.version;
    const { stream, pushes } = harness();
    stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'], versionInfo: held }), undefined);
    stream.onSnapshot(world);
    expect(pushes).toEqual([]);
    expect(stream.syncState().get('endpoint')).toMatchObject({ ackedVersion: held, syncedThrough: 1 });
    const other = harness();
    other.stream.onRequest(request('endpoint', { resourceNames: ['a', 'b'], versionInfo: 'older' }), undefined);
    other.stream.onSnapshot(world);
    expect(other.pushes).toHaveLength(1);
  });

  it('sends everything to a client whose version is not the current one', () => {
    const { stream, pushes } = harness();
    stream.onRequest(request('cluster', { versionInfo: 'some-older-version' }), world);
    expect(pushes.map((p) => p.names)).toEqual([['a', 'b']]);
  });
});

describe('mergePushes', () => {
  const push = (nonce: string, entries: [string, string][], partial: boolean): Push => ({
    kind: 'endpoint',
    typeUrl: TYPE_URLS.endpoint,
    version: nonce,
    nonce,
    names: entries.map(([name]) => name),
    resources: entries.map(([name, content]) => Buffer.from(`${name}=${content}`)),
    partial,
  });
  const contents = (p: Push) => p.resources.map((b) => Buffer.from(b).toString());

  it('keeps what a waiting partial response carried that the newer one does not', () => {
    const merged = mergePushes(push('1', [['a', '1'], ['b', '1']], true), push('2', [['b', '2'], ['c', '1']], true));
    expect([merged.nonce, merged.partial, merged.names, contents(merged)]).toEqual(['2', true, ['a', 'b', 'c'], ['a=1', 'b=2', 'c=1']]);
  });

  it('a complete newer response replaces the waiting one; a partial one on top of a complete one stays complete', () => {
    expect(mergePushes(push('1', [['a', '1']], true), push('2', [['b', '1']], false)).names).toEqual(['b']);
    const merged = mergePushes(push('1', [['a', '1'], ['b', '1']], false), push('2', [['b', '2']], true));
    expect([merged.partial, contents(merged)]).toEqual([false, ['a=1', 'b=2']]);
  });
});
