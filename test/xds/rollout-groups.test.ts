import { describe, expect, it } from 'vitest';
import type { ResourceKind } from '../../src/envoy/type-urls.ts';
import type { ClientStream, NackRecord, TypeSyncView } from '../../src/xds/client-view.ts';
import { RolloutTracker, type ModelChange } from '../../src/xds/rollout.ts';
import type { SubscriptionSelector } from '../../src/xds/subscription.ts';

/** A small deterministic PRNG, so a failure names a seed that reproduces it. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NO_RESOURCES = new Map();
function view(subscription: SubscriptionSelector, syncedThrough: number | undefined, nack?: NackRecord): TypeSyncView {
  return { subscription, heldResources: NO_RESOURCES, ackedResources: NO_RESOURCES, versionsPerResource: false, standingNack: nack, ...(syncedThrough !== undefined ? { syncedThrough } : {}) };
}

/** Rollout judged stream by stream, as it was before streams were grouped: the reference. */
function reference(change: ModelChange, streams: readonly ClientStream[], routeNames: readonly string[]) {
  const names = [...routeNames, ...routeNames.map((name) => `${name}/${change.model}`)];
  let relevant = 0;
  let live = 0;
  const pending: string[] = [];
  const rejected: string[] = [];
  for (const stream of streams) {
    const sync = stream.syncState();
    const route = sync.get('route')?.subscription;
    const usesRoutes = route !== undefined && route !== 'wildcard' && names.some((name) => route.has(name));
    const cluster = sync.get('cluster')?.subscription;
    const usesClusters = cluster !== undefined && (cluster === 'wildcard' || change.clusters.some((name) => cluster.has(name)));
    if (!usesRoutes && !usesClusters) continue;
    const types = (['route', 'cluster', 'endpoint', 'scopedRoute'] as const).filter((type) => sync.has(type) && (type !== 'route' || usesRoutes));
    const onDemand = sync.has('scopedRoute');
    relevant += 1;
    let synced = true;
    for (const type of types) {
      const state = sync.get(type)!;
      if (state.standingNack && state.standingNack.sequence >= change.sequence) rejected.push(`${stream.node?.id ?? `stream ${stream.id}`} ${type}`);
      const carries = type === 'route' || type === 'scopedRoute' || onDemand || state.subscription === 'wildcard' || change.clusters.every((name) => (state.subscription as ReadonlySet<string>).has(name));
      if (!carries || (state.syncedThrough ?? -1) < change.sequence) synced = false;
    }
    if (synced) live += 1;
    else pending.push(stream.node?.id ?? `stream ${stream.id}`);
  }
  return { relevant, live, pending: pending.sort(), rejected: rejected.sort() };
}

function world(seed: number) {
  const next = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  const models = Array.from({ length: 12 }, (_, i) => `model-${i}`);
  const clustersOf = (model: string) => [`infermesh|${model}|stable`, `infermesh|${model}|canary`];
  // Subscriptions shared between streams, as interned SotW subscriptions are, and some of each stream's own.
  const allClusters = new Set(models.flatMap(clustersOf));
  const someClusters = new Set(models.slice(0, 5).flatMap(clustersOf));
  const shared: SubscriptionSelector[] = ['wildcard', allClusters, someClusters];
  const streams: ClientStream[] = Array.from({ length: 150 }, (_, i) => {
    const sync = new Map<ResourceKind, TypeSyncView>();
    const synced = () => (next() < 0.15 ? undefined : Math.floor(next() * 4) + 1);
    const nack = (): NackRecord | undefined => (next() < 0.04 ? { nonce: '1', version: 'v', sequence: Math.floor(next() * 4) + 1, keptVersion: '', code: 3, message: 'no', at: new Date(0) } : undefined);
    const own = () => new Set(Array.from({ length: 1 + Math.floor(next() * 3) }, () => pick(clustersOf(pick(models)))));
    if (next() < 0.9) sync.set('cluster', view(next() < 0.8 ? pick(shared) : own(), synced(), nack()));
    if (next() < 0.8) sync.set('endpoint', view(next() < 0.8 ? pick(shared.slice(1)) : own(), synced(), nack()));
    if (next() < 0.3) sync.set('scopedRoute', view('wildcard', synced(), nack()));
    if (next() < 0.7) {
      const tables = new Set(Array.from({ length: Math.floor(next() * 4) }, () => (next() < 0.1 ? 'infermesh' : `infermesh/${pick(models)}`)));
      sync.set('route', view(next() < 0.05 ? 'wildcard' : tables, synced(), nack()));
    }
    return { id: String(i), connectedAt: new Date(0), node: next() < 0.95 ? { id: `proxy-${i}`, cluster: '', userAgentName: '', userAgentVersion: '', metadata: {}, raw: {} } : undefined, syncState: () => sync, onSnapshot: () => {} };
  });
  const changes: ModelChange[] = models.map((model) => ({ model, sequence: Math.floor(next() * 4) + 1, observedAt: 0, clusters: clustersOf(model) }));
  return { streams, changes };
}

describe('RolloutTracker judging alike streams once per group', () => {
  it('counts, lists pending and rejecting proxies exactly as judging each stream does', () => {
    for (let seed = 1; seed <= 40; seed += 1) {
      const { streams, changes } = world(seed);
      const tracker = new RolloutTracker({ routeNames: ['infermesh'], now: () => 0 });
      tracker.recordSnapshot(changes, new Set(changes.map((change) => change.model)));
      const rollouts = tracker.evaluate(streams);
      for (const change of changes) {
        const rollout = rollouts.find((r) => r.model === change.model)!;
        const expected = reference(change, streams, ['infermesh']);
        const got = { relevant: rollout.proxies.relevant, live: rollout.proxies.live, pending: [...rollout.proxies.pending].sort(), rejected: rollout.proxies.rejected.map((r) => `${r.node} ${r.type}`).sort() };
        expect(got, `seed ${seed}, ${change.model}`).toEqual(expected);
        expect(rollout.state).toBe(expected.rejected.length > 0 ? 'degraded' : expected.pending.length > 0 ? 'pending' : 'live');
      }
    }
  });

  it('lists pending proxies in the order their streams connected', () => {
    const sync = (synced: number) => new Map<ResourceKind, TypeSyncView>([['cluster', view('wildcard', synced)]]);
    const stream = (i: number, synced: number): ClientStream => ({ id: String(i), connectedAt: new Date(0), node: { id: `p${i}`, cluster: '', userAgentName: '', userAgentVersion: '', metadata: {}, raw: {} }, syncState: () => sync(synced), onSnapshot: () => {} });
    const tracker = new RolloutTracker({ routeNames: ['infermesh'], now: () => 0 });
    tracker.recordSnapshot([{ model: 'm', sequence: 3, observedAt: 0, clusters: ['infermesh|m|a'] }], new Set(['m']));
    const [rollout] = tracker.evaluate([stream(0, 1), stream(1, 2), stream(2, 3), stream(3, 1), stream(4, 2)]);
    expect(rollout?.proxies).toMatchObject({ relevant: 5, live: 1, pending: ['p0', 'p1', 'p3', 'p4'] });
  });
});
