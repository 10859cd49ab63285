import { DEFAULT_SETTINGS, type MeshSettings } from '../model/types.ts';
import { FAULT_FILTER, GRPC_STATS_FILTER, HCM_FILTER, ON_DEMAND_FILTER, ROUTER_FILTER, SIDECAR_LISTENER, SIDECAR_SCOPES } from './names.ts';
import { modelFromPath } from './model-from-path.ts';
import { durationMessage } from '../util/duration.ts';
import { sidecarAccessLog } from './access-log.ts';
import { localReplyConfig } from './local-reply.ts';
import { localRateLimitFilter } from './rate-limit.ts';
import { coldStartFilter } from './cold-start.ts';
import { bodyRoutingGuardFilter, modelFromBodyFilter } from './model-from-body.ts';
import type { ConfigSource, HttpConnectionManager, HttpFilter, Listener, Rds, ScopedRoutes } from './messages.ts';
import { typedConfig } from './typed-config.ts';
import { boolValue } from './wrappers.ts';

/** What some served policy needs from every sidecar's listener. */
export interface SidecarFeatures {
  coldStart?: boolean;
  bodyRouting?: boolean;
}

/**
 * HTTP filters. The fault filter carries no faults of its own: error routes switch it on per route (unknown
 * version, missing header), which both Envoy and gRPC clients honour. The router filter is last, as Envoy
 * and gRPC require. Sidecars also run the on-demand filter first: it fetches the table of a model's scope
 * and the clusters a route names (on-demand CDS) when a request first needs them, and the gRPC stats filter
 * and the local rate limit filter just before the router (see GRPC_STATS; rate-limit.ts: inactive unless a
 * model's table switches it on). While some policy sets coldStart, the ext_proc filter that holds requests
 * follows them, idle unless a table switches it on (cold-start.ts), so a rate-limited request is not held.
 * With body routing (model-from-body.ts), its first filter goes before the on-demand filter, which loads a
 * scope by the model header it sets, and its guard right after it. `settings` absent: the API listener.
 */
function httpFilters(settings: MeshSettings | undefined, features: SidecarFeatures = {}): HttpFilter[] {
  const sidecar = settings !== undefined;
  const body = features.bodyRouting && settings;
  return [
    ...(body ? [modelFromBodyFilter(body)] : []),
    ...(sidecar ? [{ name: ON_DEMAND_FILTER, typed_config: typedConfig('onDemand', { odcds: { source: ADS, timeout: durationMessage(ON_DEMAND_CDS_TIMEOUT_MS) } }) }] : []),
    ...(body ? [bodyRoutingGuardFilter(body)] : []),
    { name: FAULT_FILTER, typed_config: typedConfig('fault', {}) },
    ...(sidecar ? [{ name: GRPC_STATS_FILTER, typed_config: GRPC_STATS }, localRateLimitFilter()] : []),
    ...(settings && features.coldStart ? [coldStartFilter(settings.modelHeader, settings.versionHeader)] : []),
    { name: ROUTER_FILTER, typed_config: typedConfig('router', {}) },
  ];
}

/**
 * A gRPC call that fails with a grpc-status travels as HTTP 200 (trailers-only or after a body), so Envoy's
 * cluster stats count it as 2xx. This filter counts gRPC calls by their grpc-status per route cluster:
 * cluster.<cluster>.grpc.{success,failure,total}, which the error-ratio rules read. Per-method stats are off
 * (stats_for_all_methods false, no allowlist) so the number of stats does not grow with the methods called.
 * Not on the API listener: proxyless gRPC clients have no stats filter.
 */
const GRPC_STATS = typedConfig('grpcStats', { stats_for_all_methods: boolValue(false) });

const ADS: ConfigSource = { ads: {}, resource_api_version: 'V3' };
/** How long a first request for a model waits for its clusters (on-demand CDS) before it fails. */
const ON_DEMAND_CDS_TIMEOUT_MS = 5_000;

function rdsOverAds(routeName: string): Rds {
  return { route_config_name: routeName, config_source: ADS };
}

/**
 * Sidecars route by scope: the model header's value picks the scope of that model name (scoped-routes.ts),
 * whose table the sidecar loads on demand, so a sidecar holds the models its workload calls and no others.
 * A REST request without the header gets it from its path first (model-from-path.ts).
 */
function scopedRoutes(settings: MeshSettings): ScopedRoutes {
  return {
    name: SIDECAR_SCOPES,
    // index 0 (the whole value, as no element_separator is set): Envoy requires the oneof to be set, even to 0.
    scope_key_builder: { fragments: [{ header_value_extractor: { name: settings.modelHeader, index: 0 } }] },
    rds_config_source: ADS,
    scoped_rds: { scoped_rds_config_source: ADS },
  };
}

/**
 * The socket listener Envoy sidecars receive: HTTP/1.1 and h2c on one port (codec AUTO), routes by scoped
 * RDS, loaded on demand. Features some policy asks for add filters: `coldStart` the hold filter (idle),
 * `bodyRouting` the body-routing filters (model-from-body.ts); without them the listener is exactly what it
 * was before those fields existed.
 */
export function sidecarListener(settings: MeshSettings, features: SidecarFeatures = {}): Listener {
  // codec_type AUTO is the default, so not written (see wrappers.ts on defaults).
  const connectionManager: HttpConnectionManager = {
    stat_prefix: 'infermesh',
    scoped_routes: scopedRoutes(settings),
    early_header_mutation_extensions: [modelFromPath(settings)],
    http_filters: httpFilters(settings, features),
    local_reply_config: localReplyConfig(settings, features.bodyRouting === true),
    // One JSON line per request on Envoy's stdout. Only here: the API listener is read by gRPC clients,
    // which write no access logs.
    access_log: sidecarAccessLog(settings),
  };
  return {
    name: SIDECAR_LISTENER,
    address: {
      socket_address: { address: settings.sidecarListenerAddress, port_value: settings.sidecarListenerPort },
    },
    filter_chains: [{ filters: [{ name: HCM_FILTER, typed_config: typedConfig('httpConnectionManager', connectionManager) }] }],
    traffic_direction: 'OUTBOUND',
    ...bodyBufferLimit(settings, features),
  };
}

/**
 * Body routing buffers a request's body up to the listener's per-connection buffer limit, which Envoy also
 * applies to each request: raised only when the body-routing limit is over Envoy's default (1 MiB), so the
 * listener is unchanged otherwise. Flow control on every connection of the listener then allows that much too.
 */
function bodyBufferLimit(settings: MeshSettings, features: SidecarFeatures): Pick<Listener, 'per_connection_buffer_limit_bytes'> {
  if (!features.bodyRouting || settings.bodyRoutingLimitBytes <= DEFAULT_SETTINGS.bodyRoutingLimitBytes) return {};
  return { per_connection_buffer_limit_bytes: { value: settings.bodyRoutingLimitBytes } };
}

/**
 * The API listener proxyless gRPC clients fetch by the name they dial: xds:///infermesh (every model,
 * header-routed) or xds:///infermesh/<model> (that model's own table). Its route configuration has its name.
 */
export function apiListener(name: string): Listener {
  return {
    name,
    api_listener: {
      api_listener: typedConfig('httpConnectionManager', {
        stat_prefix: 'infermesh',
        rds: rdsOverAds(name),
        http_filters: httpFilters(undefined),
      }),
    },
  };
}

