import type { Backend, CircuitBreakerPolicy, Model } from '../model/types.ts';
import { BLACKHOLE_CLUSTER, CLUSTER_METADATA_NAMESPACE } from './names.ts';
import type { CircuitBreakers, Cluster, Metadata } from './messages.ts';
import { outlierDetection } from './outlier-detection.ts';
import { typedConfig } from './typed-config.ts';
import { flatStruct, percent, uint32Value } from './wrappers.ts';
import { durationMessage } from '../util/duration.ts';

const CONNECT_TIMEOUT = durationMessage(5000);

/** ROUND_ROBIN, the default lb_policy, is left out (see wrappers.ts on defaults). */
function edsCluster(name: string): Cluster {
  return {
    name,
    type: 'EDS',
    eds_cluster_config: { eds_config: { ads: {}, resource_api_version: 'V3' }, service_name: name },
    connect_timeout: CONNECT_TIMEOUT,
  };
}

/** One threshold set at priority DEFAULT (the default, so not written). */
function circuitBreakers(policy: CircuitBreakerPolicy): CircuitBreakers {
  const thresholds: NonNullable<CircuitBreakers['thresholds']>[number] = {};
  if (policy.maxConnections !== undefined) thresholds.max_connections = uint32Value(policy.maxConnections);
  if (policy.maxPendingRequests !== undefined) thresholds.max_pending_requests = uint32Value(policy.maxPendingRequests);
  if (policy.maxRequests !== undefined) thresholds.max_requests = uint32Value(policy.maxRequests);
  if (policy.maxRetries !== undefined) thresholds.max_retries = uint32Value(policy.maxRetries);
  return { thresholds: [thresholds] };
}

/** `protocol: grpc` backends need HTTP/2 to the upstream; `http` ones keep Envoy's HTTP/1.1 default. */
function http2Upstream(): Cluster['typed_extension_protocol_options'] {
  return {
    'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': typedConfig('httpProtocolOptions', {
      explicit_http_config: { http2_protocol_options: {} },
    }),
  };
}

/** What the sidecar's access log names as the routed model, backend and version (src/envoy/access-log.ts). */
function backendMetadata(model: Model, backend: Backend): Metadata {
  const fields: Record<string, string> = { model: model.policy.model, backend: backend.name };
  if (backend.version !== undefined) fields['version'] = backend.version;
  return { filter_metadata: { [CLUSTER_METADATA_NAMESPACE]: flatStruct(fields) } };
}

/** One EDS cluster per (model, backend), carrying the model's outlier detection and circuit breakers. */
export function backendCluster(model: Model, backend: Backend): Cluster {
  const cluster = edsCluster(backend.clusterName);
  const { outlierDetection: outlier, circuitBreaker, protocol } = model.policy;
  if (outlier) cluster.outlier_detection = outlierDetection(outlier);
  if (circuitBreaker) cluster.circuit_breakers = circuitBreakers(circuitBreaker);
  if (protocol === 'grpc') cluster.typed_extension_protocol_options = http2Upstream();
  // Endpoints whose model server says the model is not ready are UNHEALTHY; by default Envoy would send to them
  // anyway once fewer than half are healthy (panic mode), and would apply a health-only change up to 1 s late
  // (update_merge_window; measured: traffic to a pod that had unloaded the model went on for about 1 s).
  // With probing, an unhealthy host gets no traffic, from the moment it is pushed.
  if (model.policy.probe.enabled) cluster.common_lb_config = { healthy_panic_threshold: percent(0), update_merge_window: durationMessage(0) };
  // Session affinity (route-action.ts hashes on the header). ring_hash_lb_config is left out: its defaults (xxHash,
  // ring of 1024 to 8M entries) are what both Envoy and gRPC clients assume without it (gRFC A42).
  if (model.policy.affinity) cluster.lb_policy = 'RING_HASH';
  cluster.metadata = backendMetadata(model, backend);
  return cluster;
}

/** Target of error routes; it has no endpoints and is never reached because the fault filter answers first. */
export function blackholeCluster(): Cluster {
  return edsCluster(BLACKHOLE_CLUSTER);
}
