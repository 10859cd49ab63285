import type { Steps } from '../util/cooperative.ts';
import type { EncodedResource } from './encoded-resource.ts';
import { fieldsOf, varintOf } from './route-bytes.ts';
import type { Snapshot } from './snapshot.ts';

interface RouteJson {
  virtual_hosts?: { routes?: { route?: { cluster?: string; weighted_clusters?: { clusters?: { name: string }[] } } }[] }[];
}
interface ListenerJson {
  name: string;
  filter_chains?: { filters?: { typed_config?: { rds?: { route_config_name?: string } } }[] }[];
  api_listener?: { api_listener?: { rds?: { route_config_name?: string } } };
}

/** The clusters a list of routes (as built) names. */
export function clustersNamedBy(routes: readonly unknown[]): string[] {
  return referencedClusters({ virtual_hosts: [{ routes }] } as RouteJson);
}

function referencedClusters(route: RouteJson): string[] {
  return (route.virtual_hosts ?? []).flatMap((host) =>
    (host.routes ?? []).flatMap((r) => [
      ...(r.route?.cluster ? [r.route.cluster] : []),
      ...(r.route?.weighted_clusters?.clusters ?? []).map((c) => c.name),
    ]),
  );
}

/** Field numbers from any.proto and cluster.proto (Cluster, EdsClusterConfig, DiscoveryType). */
const ANY_VALUE = 2;
const CLUSTER_NAME = 1;
const CLUSTER_TYPE = 2;
const CLUSTER_EDS_CONFIG = 3;
const EDS_SERVICE_NAME = 2;
const DISCOVERY_TYPE_EDS = 3;
const utf8 = new TextDecoder();

/**
 * The ClusterLoadAssignment an EDS cluster needs (its service_name, else its name), read from the encoded
 * cluster's top-level fields: no decode of the whole cluster, which for 20,000 new clusters was most of the
 * check. Kept per resource, so a rebuild reads only new clusters.
 */
const edsNames = new WeakMap<EncodedResource, { serviceName?: string }>();

function edsServiceName(cluster: EncodedResource): string | undefined {
  let known = edsNames.get(cluster);
  if (!known) {
    const fields = fieldsOf(fieldsOf(cluster.any).find((f) => f.number === ANY_VALUE)?.value ?? new Uint8Array());
    const type = fields.find((f) => f.number === CLUSTER_TYPE);
    const eds = fields.find((f) => f.number === CLUSTER_EDS_CONFIG)?.value;
    const name = (eds && fieldsOf(eds).find((f) => f.number === EDS_SERVICE_NAME)?.value) ?? fields.find((f) => f.number === CLUSTER_NAME)?.value;
    known = type && varintOf(type) === DISCOVERY_TYPE_EDS ? { serviceName: utf8.decode(name ?? new Uint8Array()) } : {};
    edsNames.set(cluster, known);
  }
  return known.serviceName;
}

function referencedRouteConfigs(listener: ListenerJson): string[] {
  const fromChains = (listener.filter_chains ?? []).flatMap((chain) =>
    (chain.filters ?? []).flatMap((filter) => filter.typed_config?.rds?.route_config_name ?? []),
  );
  const fromApi = listener.api_listener?.api_listener?.rds?.route_config_name;
  return [...fromChains, ...(fromApi ? [fromApi] : [])];
}

/** A step checks this many clusters: one is about a microsecond once decoded, tens the first time. */
const CLUSTERS_PER_STEP = 100;

/**
 * go-control-plane's Snapshot.Consistent(), stricter: every cluster a route names exists, every EDS cluster
 * has its ClusterLoadAssignment, every route configuration a listener names exists. Returns the problems.
 * `routeClusters` gives, per route configuration, the clusters it names; without it they are read from the
 * configuration itself. Yields every CLUSTERS_PER_STEP clusters (the first look at a cluster decodes it).
 */
export function* consistencySteps(snapshot: Snapshot, routeClusters?: Record<string, readonly string[]>): Steps<string[]> {
  const problems: string[] = [];
  const clusters = snapshot.resources('cluster');
  const endpoints = snapshot.resources('endpoint');
  const routes = snapshot.resources('route');
  for (const route of routes.values()) {
    for (const name of routeClusters?.[route.name] ?? referencedClusters(route.json as RouteJson)) {
      if (!clusters.has(name)) problems.push(`route configuration ${route.name} names cluster ${name}, which does not exist`);
    }
  }
  let checked = 0;
  for (const cluster of clusters.values()) {
    const serviceName = edsServiceName(cluster);
    if (serviceName !== undefined && !endpoints.has(serviceName)) problems.push(`EDS cluster ${cluster.name} has no ClusterLoadAssignment ${serviceName}`);
    if (++checked % CLUSTERS_PER_STEP === 0) yield;
  }
  for (const listener of snapshot.resources('listener').values()) {
    for (const name of referencedRouteConfigs(listener.json as ListenerJson)) {
      if (!routes.has(name)) problems.push(`listener ${listener.name} names route configuration ${name}, which does not exist`);
    }
  }
  for (const scope of snapshot.resources('scopedRoute').values()) {
    // A scope's route configuration has the scope's own name (scoped-routes.ts).
    if (!routes.has(scope.name)) problems.push(`scope ${scope.name} names route configuration ${scope.name}, which does not exist`);
  }
  return problems;
}
