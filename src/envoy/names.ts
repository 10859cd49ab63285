/** Names of the xDS resources infermesh generates. Listener and route names are contracts (DESIGN.md). */

export const BLACKHOLE_CLUSTER = 'infermesh|blackhole';
export const SIDECAR_LISTENER = 'infermesh-sidecar';
export const FAULT_FILTER = 'envoy.filters.http.fault';
export const ROUTER_FILTER = 'envoy.filters.http.router';
export const HCM_FILTER = 'envoy.filters.network.http_connection_manager';

/** One Envoy cluster (and EDS resource) per (model, backend). `|` keeps model names with `.` and `/` readable. */
export function backendClusterName(model: string, backend: string): string {
  return `infermesh|${model}|${backend}`;
}

/** Filter-metadata namespace of a backend cluster: its model, backend and version, for access logs. */
export const CLUSTER_METADATA_NAMESPACE = 'infermesh';

/**
 * A model name's own RouteConfiguration, and its ScopedRouteConfiguration: `<grpc target>/<name>`, which is
 * also the listener a proxyless client dialling xds:///<grpc target>/<name> asks for.
 */
export function modelTableName(grpcTarget: string, name: string): string {
  return `${grpcTarget}/${name}`;
}

/** The name a per-model table or listener name stands for, or undefined when it is not one. */
export function nameOfModelTable(grpcTarget: string, resourceName: string): string | undefined {
  const prefix = `${grpcTarget}/`;
  return resourceName.startsWith(prefix) && resourceName.length > prefix.length ? resourceName.slice(prefix.length) : undefined;
}

/** The HCM's scoped-routes name (scopes are per model name, see modelTableName). */
export const SIDECAR_SCOPES = 'infermesh-scopes';
export const ON_DEMAND_FILTER = 'envoy.filters.http.on_demand';
export const GRPC_STATS_FILTER = 'envoy.filters.http.grpc_stats';
export const LOCAL_RATE_LIMIT_FILTER = 'envoy.filters.http.local_ratelimit';
/** The two Lua filters of body routing (model-from-body.ts), in the sidecar listener only while a policy asks for it. */
export const MODEL_FROM_BODY_FILTER = 'infermesh.model_from_body';
export const BODY_ROUTING_GUARD_FILTER = 'infermesh.body_routing_guard';
export const EARLY_HEADER_MUTATION = 'envoy.http.early_header_mutation.header_mutation';
export const EXT_PROC_FILTER = 'envoy.filters.http.ext_proc';
/** The static cluster of the sidecar bootstrap (envoy/bootstrap.yaml) that reaches the control plane. */
export const XDS_CLUSTER = 'infermesh-xds';
