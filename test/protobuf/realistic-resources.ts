/** Realistic Envoy resources in proto3 JSON, shaped like the ones infermesh pushes. Shared test fixtures. */

const TYPE = 'type.googleapis.com';

export const LISTENER_TYPE = 'envoy.config.listener.v3.Listener';
export const CLUSTER_TYPE = 'envoy.config.cluster.v3.Cluster';
export const ROUTE_TYPE = 'envoy.config.route.v3.RouteConfiguration';
export const ENDPOINT_TYPE = 'envoy.config.endpoint.v3.ClusterLoadAssignment';

export const HCM_URL = `${TYPE}/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`;

/** A sidecar listener: HTTP connection manager with RDS over ADS, fault + router filters, stdout access log. */
export function listenerJson(): Record<string, unknown> {
  return {
    name: 'infermesh_sidecar',
    address: { socket_address: { address: '127.0.0.1', port_value: 15001 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typed_config: {
              '@type': HCM_URL,
              stat_prefix: 'infermesh',
              codec_type: 'AUTO',
              rds: { route_config_name: 'infermesh', config_source: { ads: {}, resource_api_version: 'V3' } },
              http_filters: [
                { name: 'envoy.filters.http.fault', typed_config: { '@type': `${TYPE}/envoy.extensions.filters.http.fault.v3.HTTPFault` } },
                {
                  name: 'envoy.filters.http.router',
                  typed_config: { '@type': `${TYPE}/envoy.extensions.filters.http.router.v3.Router`, suppress_envoy_headers: true },
                },
              ],
              access_log: [
                {
                  name: 'envoy.access_loggers.stdout',
                  typed_config: { '@type': `${TYPE}/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog` },
                },
              ],
              common_http_protocol_options: { idle_timeout: '300s', max_headers_count: 100 },
              stream_idle_timeout: '0s',
              use_remote_address: false,
            },
          },
        ],
      },
    ],
    traffic_direction: 'OUTBOUND',
  };
}

/** An EDS-over-ADS cluster with HTTP/2 upstream options, circuit breakers and outlier detection. */
export function clusterJson(): Record<string, unknown> {
  return {
    name: 'model_resnet50_v1',
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: 'model_resnet50_v1' },
    connect_timeout: '0.250s',
    lb_policy: 'LEAST_REQUEST',
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': `${TYPE}/envoy.extensions.upstreams.http.v3.HttpProtocolOptions`,
        explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 100 } },
        common_http_protocol_options: { idle_timeout: '60s' },
      },
    },
    circuit_breakers: {
      thresholds: [{ priority: 'DEFAULT', max_connections: 1024, max_pending_requests: 256, max_requests: 1024, max_retries: 3 }],
    },
    outlier_detection: {
      consecutive_5xx: 5,
      interval: '10s',
      base_ejection_time: '30s',
      max_ejection_percent: 50,
      consecutive_gateway_failure: 3,
      enforcing_consecutive_gateway_failure: 100,
    },
    common_lb_config: { healthy_panic_threshold: { value: 50 } },
    metadata: { filter_metadata: { infermesh: { model: 'resnet50', version: 1, canary: false, tags: ['vision', null] } } },
  };
}

/** Routes by x-model header to a 90/10 weighted split with a retry policy, plus a 404 fallback. */
export function routeConfigurationJson(): Record<string, unknown> {
  return {
    name: 'infermesh',
    virtual_hosts: [
      {
        name: 'models',
        domains: ['*'],
        routes: [
          {
            name: 'resnet50',
            match: { prefix: '/', headers: [{ name: 'x-model', string_match: { exact: 'resnet50' } }] },
            route: {
              weighted_clusters: {
                clusters: [
                  { name: 'model_resnet50_v1', weight: 90 },
                  { name: 'model_resnet50_v2', weight: 10 },
                ],
              },
              timeout: '30s',
              retry_policy: {
                retry_on: '5xx,reset,connect-failure',
                num_retries: 2,
                per_try_timeout: '10s',
                retry_host_predicate: [
                  {
                    name: 'envoy.retry_host_predicates.previous_hosts',
                    typed_config: { '@type': `${TYPE}/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate` },
                  },
                ],
                host_selection_retry_max_attempts: '3',
                retry_back_off: { base_interval: '0.025s', max_interval: '0.250s' },
              },
            },
            request_headers_to_add: [
              { header: { key: 'x-infermesh-route', value: 'resnet50' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' },
            ],
          },
          {
            name: 'unknown_model',
            match: { prefix: '/' },
            direct_response: { status: 404, body: { inline_string: 'unknown model' } },
          },
        ],
      },
    ],
    validate_clusters: false,
  };
}

export function clusterLoadAssignmentJson(): Record<string, unknown> {
  return {
    cluster_name: 'model_resnet50_v1',
    endpoints: [
      {
        locality: { zone: 'us-east-1a' },
        lb_endpoints: [
          {
            endpoint: { address: { socket_address: { address: '10.0.0.12', port_value: 8500 } } },
            health_status: 'HEALTHY',
            load_balancing_weight: 1,
          },
          {
            endpoint: { address: { socket_address: { address: '10.0.0.13', port_value: 8500 } } },
            health_status: 'DRAINING',
            load_balancing_weight: 2,
          },
        ],
      },
    ],
    policy: { overprovisioning_factor: 140 },
  };
}

export const REALISTIC_RESOURCES: ReadonlyArray<readonly [string, string, () => Record<string, unknown>]> = [
  ['listener with HCM, RDS over ADS and the router filter', LISTENER_TYPE, listenerJson],
  ['EDS cluster with circuit breakers and outlier detection', CLUSTER_TYPE, clusterJson],
  ['route configuration with weighted clusters and a retry policy', ROUTE_TYPE, routeConfigurationJson],
  ['cluster load assignment', ENDPOINT_TYPE, clusterLoadAssignmentJson],
];
