/** Names of the xDS resources infermesh generates. Listener and route names are contracts (DESIGN.md). */

export const BLACKHOLE_CLUSTER = 'infermesh|blackhole';
export const SIDECAR_LISTENER = 'infermesh-sidecar';
/** The sidecars' own RouteConfiguration (a matcher tree); proxyless gRPC clients get one named after their target. */
export const SIDECAR_ROUTE_CONFIG = 'infermesh-sidecar';
export const FAULT_FILTER = 'envoy.filters.http.fault';
export const ROUTER_FILTER = 'envoy.filters.http.router';
export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';

/** One Envoy cluster (and EDS resource) per (model, backend). `|` keeps model names with `.` and `/` readable. */
export function backendClusterName(model: string, backend: string): string {
  return `infermesh|${model}|${backend}`;
}

/** Filter-metadata namespace of a backend cluster: its model, backend and version, for access logs. */
export const CLUSTER_METADATA_NAMESPACE = 'infermesh';
