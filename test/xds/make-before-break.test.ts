import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import type { Snapshot } from '../../src/snapshot/snapshot.ts';
import { XdsServer } from '../../src/xds/server.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { LeanAdsClient } from '../support/lean-ads-client.ts';
import { TestProxy, meshSnapshot, type Flavour, type Seen } from './ads-test-proxy.ts';

/**
 * Make before break (src/xds/make-before-break.ts) over the wire, for both ADS flavours: a proxy that
 * subscribes to clusters by wildcard (Envoy) gets routes naming a new cluster only once it has ACKed the
 * cluster and been sent its endpoints, and keeps a removed cluster until it ACKs routes that no longer name
 * it; a proxy that names its clusters (proxyless gRPC) gets routes at once. Every step is driven by hand, and
 * "not sent" is read from the server's own stream state after a ping, so no assertion waits on a timer (but
 * one 200 ms look for a push loop).
 */
const root = loadEnvoyProtos();
let server: XdsServer;
let store: SnapshotStore;
let port: number;
const closers: (() => void)[] = [];

beforeEach(async () => {
  store = new SnapshotStore();
  server = new XdsServer({ root, snapshots: store, logger: silentLogger(), metrics: createMetrics(), controlPlaneId: 'mbb-test' });
  port = await server.listen('127.0.0.1:0');
});

afterEach(async () => {
  for (const close of closers.splice(0)) close();
  await server.close(1_000);
});

function proxy(flavour: Flavour, nodeId: string): TestProxy {
  const p = new TestProxy(root, server, port, flavour, nodeId);
  closers.push(() => p.close());
  return p;
}

const has = (name: string) => (r: Seen) => r.resources.has(name);
const routes = (content: string) => (r: Seen) => r.resources.get('r') === content;

/** Connects as Envoy does (CDS by wildcard, then EDS for those clusters, LDS, RDS), ACKing each answer. */
async function envoy(flavour: Flavour, nodeId: string, clusters: readonly string[]): Promise<TestProxy> {
  const p = proxy(flavour, nodeId);
  await subscribeAll(p, { cluster: '*', endpoint: clusters, listener: '*', route: ['r'] });
  return p;
}

/** Connects as a proxyless gRPC client does: every type by name. */
async function proxyless(flavour: Flavour, nodeId: string, clusters: readonly string[]): Promise<TestProxy> {
  const p = proxy(flavour, nodeId);
  await subscribeAll(p, { cluster: clusters, endpoint: clusters, listener: ['l'], route: ['r'] });
  return p;
}

/** Subscribes to every type in Envoy's order, ACKing each answer; the mesh starts with the clusters subscribed. */
async function subscribeAll(p: TestProxy, names: Record<'cluster' | 'endpoint' | 'listener' | 'route', readonly string[] | '*'>): Promise<void> {
  if (!store.current()) store.set(meshSnapshot(1, names.endpoint === '*' ? [] : names.endpoint));
  for (const kind of ['cluster', 'endpoint', 'listener', 'route'] as const) {
    const since = p.seen.length;
    p.subscribe(kind, names[kind]);
    await p.next(kind, since);
    p.ack(kind);
  }
  await p.ping();
}

/** Publishes and returns how many responses the proxy had seen before it. */
function publish(p: TestProxy, snapshot: Snapshot): number {
  const since = p.seen.length;
  store.set(snapshot);
  return since;
}

/** After a ping, the server has handled everything before it: its routes for this proxy are still `nonce`. */
async function expectRoutesHeld(p: TestProxy, nonce: string | undefined, since: number): Promise<void> {
  await p.ping();
  expect(p.sentNonce('route'), 'the server sent routes').toBe(nonce);
  expect(p.since(since, 'route')).toEqual([]);
}

describe.each(['sotw', 'delta'] as const)('make before break, %s', (flavour) => {
  it('holds routes naming a new cluster until the proxy has ACKed that cluster', async () => {
    const p = await envoy(flavour, 'ack-first', ['a']);
    const routesBefore = p.sentNonce('route');
    const since = publish(p, meshSnapshot(2, ['a', 'b']));
    await p.next('cluster', since, has('b'), 'CDS response with the new cluster');
    await expectRoutesHeld(p, routesBefore, since);
    // Its endpoints first: still held, the cluster is not accepted yet.
    p.subscribe('endpoint', ['a', 'b']);
    await p.next('endpoint', since, has('b'), 'EDS response with the new cluster');
    p.ack('endpoint');
    await expectRoutesHeld(p, routesBefore, since);
    p.ack('cluster');
    await p.next('route', since, routes('a,b'), 'routes naming the new cluster');
    expect(p.since(since, 'route').map((r) => r.resources.get('r'))).toEqual(['a,b']);
  });

  it('holds routes naming a new cluster until its endpoints have been sent', async () => {
    const p = await envoy(flavour, 'endpoints-first', ['a']);
    const routesBefore = p.sentNonce('route');
    const since = publish(p, meshSnapshot(2, ['a', 'b']));
    await p.next('cluster', since, has('b'), 'CDS response with the new cluster');
    p.ack('cluster');
    // Accepted, but warming: Envoy asks for its endpoints only now.
    await expectRoutesHeld(p, routesBefore, since);
    p.subscribe('endpoint', ['a', 'b']);
    const route = await p.next('route', since, routes('a,b'), 'routes naming the new cluster');
    const seen = p.seen.slice(since);
    const endpointsOfB = seen.findIndex((r) => r.kind === 'endpoint' && r.resources.has('b'));
    expect(endpointsOfB).toBeGreaterThanOrEqual(0);
    expect(seen.indexOf(seen.find((r) => r.nonce === route.nonce)!)).toBeGreaterThan(endpointsOfB);
  });

  it('keeps a removed model\'s cluster and endpoints until the routes that stop naming it are ACKed', async () => {
    const p = await envoy(flavour, 'removal', ['a', 'b']);
    const since = publish(p, meshSnapshot(2, ['a']));
    await p.next('route', since, routes('a'), 'routes without the removed model');
    await p.ping();
    const dropsB = (r: Seen) => r.removed.includes('b') || (flavour === 'sotw' && !r.resources.has('b'));
    expect(p.since(since, 'cluster').filter(dropsB), 'clusters dropped b before the routes moved').toEqual([]);
    expect(p.since(since, 'endpoint').filter((r) => r.removed.includes('b'))).toEqual([]);
    // Asked again meanwhile, the server still gives b's endpoints.
    const asked = p.seen.length;
    p.askAgain('endpoint');
    expect((await p.next('endpoint', asked)).resources.has('b')).toBe(true);
    p.ack('endpoint');
    const acked = p.seen.length;
    p.ack('route');
    await p.next('cluster', acked, dropsB, 'CDS response dropping b once the routes are ACKed');
    if (flavour === 'delta') await p.next('endpoint', acked, (r) => r.removed.includes('b'), 'EDS response removing b');
    const again = p.seen.length;
    p.askAgain('endpoint');
    expect((await p.next('endpoint', again)).resources.has('b')).toBe(false);
  });

  it('keeps the old clusters when the proxy NACKs the routes that stop naming them', async () => {
    const p = await envoy(flavour, 'nack', ['a', 'b']);
    const since = publish(p, meshSnapshot(2, ['a']));
    await p.next('route', since, routes('a'), 'routes without the removed model');
    p.nack('route');
    await p.ping();
    const dropsB = (r: Seen) => r.removed.includes('b') || (flavour === 'sotw' && !r.resources.has('b'));
    expect(p.since(since, 'cluster').filter(dropsB), 'clusters dropped b after the routes were NACKed').toEqual([]);
    // A later cluster change still carries b (SotW: every cluster; delta: b not removed).
    const changed = publish(p, meshSnapshot(3, ['a'], { content: '2' }));
    const clusters = await p.next('cluster', changed, (r) => r.resources.get('a') === '2', 'CDS response with the changed cluster');
    expect(dropsB(clusters)).toBe(false);
    p.ack('cluster');
    // Routes the proxy accepts at last let b go.
    const fixed = publish(p, meshSnapshot(4, ['a'], { content: '2', routeTag: 'fixed' }));
    await p.next('route', fixed, routes('a#fixed'), 'the next routes');
    p.ack('route');
    await p.next('cluster', fixed, dropsB, 'CDS response dropping b once routes are ACKed');
  });

  it('sends routes at once to a proxy that names its clusters (proxyless gRPC, on-demand Envoy), and drops a cluster once its routes moved', async () => {
    const p = await proxyless(flavour, 'proxyless', ['a', 'b']);
    const since = publish(p, meshSnapshot(2, ['a', 'b', 'c']));
    // No CDS subscription to c, no ACK of it: the routes go anyway, the client asks for c after reading them.
    await p.next('route', since, routes('a,b,c'), 'routes naming the new cluster');
    p.ack('route');
    const removed = publish(p, meshSnapshot(3, ['a', 'c']));
    await p.next('route', removed, routes('a,c'), 'routes without b');
    // b stays while the routes naming it may still run (an on-demand Envoy would ask for it again and hold
    // the request until its on-demand timeout), and goes once the routes without it are ACKed.
    const dropsB = (r: { removed: readonly string[]; resources: ReadonlyMap<string, unknown> }) => r.removed.includes('b') || (flavour === 'sotw' && !r.resources.has('b') && r.resources.has('a'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(p.seen.slice(removed).some((r) => r.kind === 'cluster' && dropsB(r))).toBe(false);
    p.ack('route');
    await p.next('cluster', removed, dropsB, 'CDS response dropping b');
  });

  it('keeps routes held, and everything else flowing, while a proxy never ACKs a new cluster', async () => {
    const stuck = await envoy(flavour, 'never-acks', ['a']);
    const healthy = await envoy(flavour, 'acks', ['a']);
    // A neighbour that reads and never answers anything.
    const silent = new LeanAdsClient(root, `127.0.0.1:${port}`, { delta: flavour === 'delta', ack: false });
    closers.push(() => silent.close());
    for (const typeUrl of [TYPE_URLS.cluster, TYPE_URLS.endpoint, TYPE_URLS.listener, TYPE_URLS.route]) silent.subscribe('silent', typeUrl, typeUrl === TYPE_URLS.endpoint ? ['a'] : typeUrl === TYPE_URLS.route ? ['r'] : []);
    const routesBefore = stuck.sentNonce('route');
    const healthySince = healthy.seen.length;
    const since = publish(stuck, meshSnapshot(2, ['a', 'b']));
    await stuck.next('cluster', since, has('b'));
    stuck.subscribe('endpoint', ['a', 'b']);
    await stuck.next('endpoint', since, has('b'));
    await expectRoutesHeld(stuck, routesBefore, since);
    // The other Envoy goes through the whole sequence and gets its routes.
    await healthy.next('cluster', healthySince, has('b'));
    healthy.ack('cluster');
    healthy.subscribe('endpoint', ['a', 'b']);
    await healthy.next('route', healthySince, routes('a,b'));
    // The stuck one still gets listener, cluster and endpoint changes.
    const later = publish(stuck, meshSnapshot(3, ['a', 'b'], { content: '2', listener: '2' }));
    await stuck.next('listener', later, (r) => r.resources.get('l') === '2', 'the listener change');
    await stuck.next('cluster', later, (r) => r.resources.get('a') === '2');
    await stuck.next('endpoint', later, (r) => r.resources.get('a') === '2');
    await expectRoutesHeld(stuck, routesBefore, since);
    // No loop: a held stream sends nothing more on its own.
    const settled = stuck.seen.length;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(stuck.seen.length).toBe(settled);
    // The late ACK releases the latest routes.
    stuck.ack('cluster');
    await stuck.next('route', since, routes('a,b'));
  });

  it('sends only the latest routes when changes arrive while routes are held', async () => {
    const p = await envoy(flavour, 'latest-wins', ['a']);
    const routesBefore = p.sentNonce('route');
    const since = publish(p, meshSnapshot(2, ['a', 'b']));
    await p.next('cluster', since, has('b'));
    publish(p, meshSnapshot(3, ['a', 'b', 'c']));
    await p.next('cluster', since, has('c'));
    await expectRoutesHeld(p, routesBefore, since);
    p.ack('cluster');
    p.subscribe('endpoint', ['a', 'b', 'c']);
    await p.next('route', since, routes('a,b,c'), 'the latest routes');
    await p.ping();
    expect(p.since(since, 'route').map((r) => r.resources.get('r'))).toEqual(['a,b,c']);
  });

  it('releases held routes at once when a later change no longer adds the cluster they waited for', async () => {
    const p = await envoy(flavour, 'withdrawn', ['a']);
    const routesBefore = p.sentNonce('route');
    const since = publish(p, meshSnapshot(2, ['a', 'b']));
    await p.next('cluster', since, has('b'));
    await expectRoutesHeld(p, routesBefore, since);
    // b is withdrawn before the proxy accepted it; the routes change in another way.
    publish(p, meshSnapshot(3, ['a'], { routeTag: 'retuned' }));
    await p.next('route', since, routes('a#retuned'), 'the latest routes, without waiting for b');
    await p.ping();
    expect(p.since(since, 'route').map((r) => r.resources.get('r'))).toEqual(['a#retuned']);
  });
});
