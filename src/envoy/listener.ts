import type { MeshSettings } from '../model/types.ts';
import { FAULT_FILTER, HCM_FILTER, ROUTER_FILTER, SIDECAR_LISTENER, SIDECAR_ROUTE_CONFIG } from './names.ts';
import { sidecarAccessLog } from './access-log.ts';
import { localReplyConfig } from './local-reply.ts';
import type { HttpConnectionManager, HttpFilter, Listener, Rds } from './messages.ts';
import { typedConfig } from './typed-config.ts';

/**
 * HTTP filters shared by both listeners. The fault filter carries no faults of its own: error routes
 * switch it on per route (unknown model, missing header), which both Envoy and gRPC clients honour.
 * The router filter is last, as Envoy and gRPC require.
 */
function httpFilters(): HttpFilter[] {
  return [
    { name: FAULT_FILTER, typed_config: typedConfig('fault', {}) },
    { name: ROUTER_FILTER, typed_config: typedConfig('router', {}) },
  ];
}

function rdsOverAds(routeName: string): Rds {
  return { route_config_name: routeName, config_source: { ads: {}, resource_api_version: 'V3' } };
}

/**
 * The socket listener Envoy sidecars receive: HTTP/1.1 and h2c on one port (codec AUTO), routes by RDS from
 * the sidecar RouteConfiguration (a model-header matcher tree, which gRPC clients could not use).
 */
export function sidecarListener(settings: MeshSettings): Listener {
  // codec_type AUTO is the default, so not written (see wrappers.ts on defaults).
  const connectionManager: HttpConnectionManager = {
    stat_prefix: 'infermesh',
    rds: rdsOverAds(SIDECAR_ROUTE_CONFIG),
    http_filters: httpFilters(),
    local_reply_config: localReplyConfig(settings),
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
  };
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
        http_filters: httpFilters(),
      }),
    },
  };
}

