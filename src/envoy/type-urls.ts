const PREFIX = 'type.googleapis.com/';

export const TYPE_URLS = {
  listener: `${PREFIX}envoy.config.listener.v3.Listener`,
  route: `${PREFIX}envoy.config.route.v3.RouteConfiguration`,
  cluster: `${PREFIX}envoy.config.cluster.v3.Cluster`,
  endpoint: `${PREFIX}envoy.config.endpoint.v3.ClusterLoadAssignment`,
  scopedRoute: `${PREFIX}envoy.config.route.v3.ScopedRouteConfiguration`,
} as const;

export type ResourceKind = keyof typeof TYPE_URLS;
export type TypeUrl = (typeof TYPE_URLS)[ResourceKind];

export const RESOURCE_KINDS: readonly ResourceKind[] = ['cluster', 'endpoint', 'listener', 'route', 'scopedRoute'];

export const EXTENSION_TYPES = {
  httpConnectionManager: `${PREFIX}envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`,
  router: `${PREFIX}envoy.extensions.filters.http.router.v3.Router`,
  fault: `${PREFIX}envoy.extensions.filters.http.fault.v3.HTTPFault`,
  httpProtocolOptions: `${PREFIX}envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
  previousHosts: `${PREFIX}envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate`,
  stdoutAccessLog: `${PREFIX}envoy.extensions.access_loggers.stream.v3.StdoutAccessLog`,
  onDemand: `${PREFIX}envoy.extensions.filters.http.on_demand.v3.OnDemand`,
  grpcStats: `${PREFIX}envoy.extensions.filters.http.grpc_stats.v3.FilterConfig`,
  earlyHeaderMutation: `${PREFIX}envoy.extensions.http.early_header_mutation.header_mutation.v3.HeaderMutation`,
  localRateLimit: `${PREFIX}envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`,
  lua: `${PREFIX}envoy.extensions.filters.http.lua.v3.Lua`,
  luaPerRoute: `${PREFIX}envoy.extensions.filters.http.lua.v3.LuaPerRoute`,
  routeFilterConfig: `${PREFIX}envoy.config.route.v3.FilterConfig`,
  extProc: `${PREFIX}envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor`,
  extProcPerRoute: `${PREFIX}envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute`,
} as const;

/** The protobuf message name behind a type URL. */
export function messageName(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

export function kindOfTypeUrl(typeUrl: string): ResourceKind | undefined {
  return RESOURCE_KINDS.find((kind) => TYPE_URLS[kind] === typeUrl);
}

/**
 * The types a client may subscribe to by wildcard, which a first request naming nothing means (the legacy
 * rule): LDS, CDS and SRDS, which Envoy asks for as a whole (xds_protocol.rst, "How the client specifies
 * what resources to return").
 */
export function wildcardCapable(kind: ResourceKind): boolean {
  return kind === 'listener' || kind === 'cluster' || kind === 'scopedRoute';
}
