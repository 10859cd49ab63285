import type { Snapshot } from '../snapshot/snapshot.ts';
import type { SnapshotDiffer } from './snapshot-differ.ts';

/**
 * The order Envoy needs changes in (xds_protocol.rst, "Eventual consistency considerations"): a cluster must
 * be warm (accepted, and its endpoints received) before a route names it, else the route answers 503 "no
 * cluster" (NC) meanwhile; and a cluster must stay until the routes naming it are replaced. Sending CDS before
 * RDS is not enough: Envoy asks for a new cluster's endpoints only once it has taken the cluster.
 *
 * Holding routes back holds for clients that subscribe to clusters by wildcard. Clients that name clusters
 * (on-demand Envoy, proxyless gRPC) name the ones their routes use after reading the routes: holding routes
 * for them would wait forever.
 */
export interface ClientClusters {
  /** The client subscribes to clusters by wildcard. */
  wildcard: boolean;
  /** The client accepted a response holding this cluster. */
  accepted(name: string): boolean;
  /** The client refused the latest clusters: what they add will not warm, so waiting for it is pointless. */
  refused: boolean;
  /** Whether the client was sent this cluster's endpoints; undefined when it subscribes to no endpoints. */
  endpointsSent(name: string): boolean | undefined;
}

/** May the client be sent `target`'s routes, its routes now coming from `routesFrom`? */
export function routesMayMove(differ: SnapshotDiffer, routesFrom: Snapshot | undefined, target: Snapshot, client: ClientClusters): boolean {
  if (!client.wildcard || client.refused || !routesFrom || routesFrom === target) return true;
  const [before, after, endpoints] = [routesFrom.resources('cluster'), target.resources('cluster'), target.resources('endpoint')];
  for (const name of differ.changed(routesFrom, target, 'cluster')) {
    if (!after.has(name) || before.has(name)) continue;
    if (!client.accepted(name)) return false;
    if (endpoints.has(name) && client.endpointsSent(name) === false) return false;
  }
  return true;
}

/**
 * The snapshot to take clusters and endpoints from: `target`, keeping what routes the client may run still
 * name. For every client, wildcard or not: an on-demand Envoy that is sent a cluster's removal before the
 * routes naming it are replaced asks for it again (on-demand CDS) and holds the request until its timeout.
 */
export function clustersFor(differ: SnapshotDiffer, routesFrom: readonly (Snapshot | undefined)[], target: Snapshot): Snapshot {
  let bridge = target;
  for (const from of routesFrom) if (from) bridge = differ.keepingClusters(from, bridge);
  return bridge;
}
