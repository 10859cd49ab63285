import { describe, expect, it } from 'vitest';
import { TYPE_URLS, type ResourceKind } from '../../src/envoy/type-urls.ts';
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
