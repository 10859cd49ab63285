import { describe, expect, it } from 'vitest';
import { TYPE_URLS, type ResourceKind } from '../../src/envoy/type-urls.ts';
import type { DeltaDiscoveryRequest } from '../../src/xds/delta-messages.ts';
import { DeltaStream, type DeltaPush } from '../../src/xds/delta-stream.ts';
import type { DiscoveryRequest } from '../../src/xds/messages.ts';
import { RolloutTracker } from '../../src/xds/rollout.ts';
import { SotwStream, type Push } from '../../src/xds/sotw-stream.ts';
import { fakeSnapshot } from '../support/snapshots.ts';

const ROUTES = ['infermesh', 'infermesh-sidecar'];

function request(kind: ResourceKind, names: string[], reply?: Push): DiscoveryRequest {
  return { versionInfo: reply?.version ?? '', resourceNames: names, typeUrl: TYPE_URLS[kind], responseNonce: reply?.nonce ?? '' };
}

/** A sidecar-like SotW stream: CDS wildcard, EDS for the clusters, RDS for the sidecar route configuration. */
function sidecar() {
  const pushes: Push[] = [];
  const stream = new SotwStream('1', (push) => pushes.push(push), { push: () => {}, ack: () => {}, nack: () => {}, ignored: () => {} });
  const ackAll = () => {
    for (const push of pushes.splice(0)) {
      const names = push.kind === 'route' ? ['infermesh-sidecar'] : push.kind === 'endpoint' ? ['infermesh|m|a'] : [];
      stream.onRequest(request(push.kind, names, push), undefined);
    }
  };
  return { stream, pushes, ackAll };
}

const world = (version: string, route: string) =>
  fakeSnapshot(version, { cluster: [['infermesh|m|a', '1']], endpoint: [['infermesh|m|a', '1']], route: [['infermesh-sidecar', route], ['infermesh', route]] });

describe('RolloutTracker with Envoy sidecars', () => {
  it('keeps a route change pending until the sidecar ACKs its own route configuration', () => {
    const { stream, ackAll } = sidecar();
    const first = world('1', 'r1');
    stream.onRequest(request('cluster', []), first);
    stream.onRequest(request('endpoint', ['infermesh|m|a']), first);
    stream.onRequest(request('route', ['infermesh-sidecar']), first);
    ackAll();
    const tracker = new RolloutTracker({ routeNames: ROUTES, now: () => 0 });
    const next = world('2', 'r2');
    tracker.recordSnapshot([{ model: 'm', sequence: 2, observedAt: 0, clusters: ['infermesh|m|a'] }], new Set(['m']));
    stream.onSnapshot(next);
    expect(tracker.evaluate([stream])[0]).toMatchObject({ state: 'pending', proxies: { relevant: 1, live: 0 } });
    ackAll();
    expect(tracker.evaluate([stream])[0]).toMatchObject({ state: 'live', proxies: { relevant: 1, live: 1 } });
  });
});

function deltaRequest(kind: ResourceKind, subscribe: string[], reply?: DeltaPush): DeltaDiscoveryRequest {
  return { typeUrl: TYPE_URLS[kind], resourceNamesSubscribe: subscribe, resourceNamesUnsubscribe: [], initialResourceVersions: new Map(), responseNonce: reply?.nonce ?? '' };
}

/** An on-demand delta sidecar (scoped RDS, on-demand CDS): LDS and SRDS wildcard, the rest by name when called. */
function onDemandSidecar(id: string) {
  const pushes: DeltaPush[] = [];
  const stream = new DeltaStream(id, (push) => void pushes.push(push), { push: () => {}, ack: () => {}, nack: () => {}, ignored: () => {} });
  const ackAll = () => {
    for (const push of pushes.splice(0)) stream.onRequest(deltaRequest(push.kind, [], push), undefined);
  };
  return { stream, pushes, ackAll };
}

const scoped = (version: string, route: string) =>
  fakeSnapshot(version, {
    listener: [['infermesh-sidecar', '1']],
    scopedRoute: [['infermesh/m', '1'], ['infermesh/n', '1']],
    route: [['infermesh/m', route], ['infermesh/n', '1']],
    cluster: [['infermesh|m|a', '1'], ['infermesh|m|b', '1'], ['infermesh|n|a', '1']],
    endpoint: [['infermesh|m|a', '1'], ['infermesh|m|b', '1'], ['infermesh|n|a', '1']],
  });

describe('RolloutTracker with on-demand delta sidecars', () => {
  it('waits for the sidecars that loaded the model, on its own table, and for none that did not', () => {
    const first = scoped('1', 'r1');
    const caller = onDemandSidecar('caller');
    const idle = onDemandSidecar('idle');
    for (const sidecar of [caller, idle]) {
      sidecar.stream.onRequest(deltaRequest('listener', []), first);
      sidecar.stream.onRequest(deltaRequest('scopedRoute', []), first);
    }
    // The caller's first request for m loads m's table and the one cluster its route picked (not m|b).
    caller.stream.onRequest(deltaRequest('route', ['infermesh/m']), first);
    caller.stream.onRequest(deltaRequest('cluster', ['infermesh|m|a']), first);
    caller.stream.onRequest(deltaRequest('endpoint', ['infermesh|m|a']), first);
    caller.ackAll();
    idle.ackAll();
    const tracker = new RolloutTracker({ routeNames: ['infermesh'], now: () => 0 });
    tracker.recordSnapshot([{ model: 'm', sequence: 1, observedAt: 0, clusters: ['infermesh|m|a', 'infermesh|m|b'] }], new Set(['m', 'n']));
    expect(tracker.evaluate([caller.stream, idle.stream])[0]).toMatchObject({ state: 'live', proxies: { relevant: 1, live: 1 } });

    // A route-only change (a timeout): only m's table changes, and the caller has not ACKed it yet.
    const next = scoped('2', 'r2');
    tracker.recordSnapshot([{ model: 'm', sequence: 2, observedAt: 0, clusters: ['infermesh|m|a', 'infermesh|m|b'] }], new Set(['m', 'n']));
    caller.stream.onSnapshot(next);
    idle.stream.onSnapshot(next);
    expect(caller.pushes.map((push) => push.kind)).toEqual(['route']);
    expect(idle.pushes).toEqual([]);
    expect(tracker.evaluate([caller.stream, idle.stream])[0]).toMatchObject({ state: 'pending', proxies: { relevant: 1, live: 0, pending: ['stream caller'] } });
    caller.ackAll();
    expect(tracker.evaluate([caller.stream, idle.stream])[0]).toMatchObject({ state: 'live', proxies: { relevant: 1, live: 1, pending: [] } });
  });

  it('counts a sidecar that loaded the model through an alias by the tables the change lists', () => {
    const world = fakeSnapshot('1', { scopedRoute: [['infermesh/alias', '1']], route: [['infermesh/alias', 'r1']] });
    const caller = onDemandSidecar('alias-caller');
    caller.stream.onRequest(deltaRequest('scopedRoute', []), world);
    caller.stream.onRequest(deltaRequest('route', ['infermesh/alias']), world);
    caller.ackAll();
    const tracker = new RolloutTracker({ routeNames: ['infermesh'], now: () => 0 });
    tracker.recordSnapshot([{ model: 'm', sequence: 1, observedAt: 0, clusters: [] }], new Set(['m']));
    expect(tracker.evaluate([caller.stream])[0]?.proxies.relevant).toBe(0);
    tracker.recordSnapshot([{ model: 'm', sequence: 1, observedAt: 0, clusters: [], tables: ['infermesh/m', 'infermesh/alias'] }], new Set(['m']));
    expect(tracker.evaluate([caller.stream])[0]).toMatchObject({ state: 'live', proxies: { relevant: 1, live: 1 } });
  });
});
