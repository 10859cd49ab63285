import type { Backend, CircuitBreakerPolicy, Model } from '../model/types.ts';
import { BLACKHOLE_CLUSTER, CLUSTER_METADATA_NAMESPACE } from './names.ts';
import { outlierDetection } from './outlier-detection.ts';
import { EXTENSION_TYPES } from './type-urls.ts';

type Json = Record<string, unknown>;

const CONNECT_TIMEOUT = '5s';

function edsCluster(name: string): Json {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name },
    connect_timeout: CONNECT_TIMEOUT,
    lb_policy: 'ROUND_ROBIN',
  };
}

function circuitBreakers(policy: CircuitBreakerPolicy): Json {
  const thresholds: Json = { priority: 'DEFAULT' };
  if (policy.maxConnections !== undefined) thresholds['max_connections'] = policy.maxConnections;
  if (policy.maxPendingRequests !== undefined) thresholds['max_pending_requests'] = policy.maxPendingRequests;
  if (policy.maxRequests !== undefined) thresholds['max_requests'] = policy.maxRequests;
  if (policy.maxRetries !== undefined) thresholds['max_retries'] = policy.maxRetries;
  return { thresholds: [thresholds] };
}

/** `protocol: grpc` backends need HTTP/2 to the upstream; `http` ones keep Envoy's HTTP/1.1 default. */
function http2Upstream(): Json {
  return {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
      '@type': EXTENSION_TYPES.httpProtocolOptions,
      explicit_http_config: { http2_protocol_options: {} },
    },
  };
}

/** What the sidecar's access log names as the routed model, backend and version (src/envoy/access-log.ts). */
function backendMetadata(model: Model, backend: Backend): Json {
  const fields: Json = { model: model.policy.model, backend: backend.name };
  if (backend.version !== undefined) fields['version'] = backend.version;
  return { filter_metadata: { [CLUSTER_METADATA_NAMESPACE]: fields } };
}

/** One EDS cluster per (model, backend), carrying the model's outlier detection and circuit breakers. */
export function backendCluster(model: Model, backend: Backend): Json {
  const cluster = edsCluster(backend.clusterName);
  const { outlierDetection: outlier, circuitBreaker, protocol } = model.policy;
  if (outlier) cluster['outlier_detection'] = outlierDetection(outlier);
  if (circuitBreaker) cluster['circuit_breakers'] = circuitBreakers(circuitBreaker);
  if (protocol === 'grpc') cluster['typed_extension_protocol_options'] = http2Upstream();
  cluster['metadata'] = backendMetadata(model, backend);
  return cluster;
}

/** Target of error routes; it has no endpoints and is never reached because the fault filter answers first. */
export function blackholeCluster(): Json {
  return edsCluster(BLACKHOLE_CLUSTER);
}
