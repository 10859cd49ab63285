/**
 * The intermediate representation: plain data, free of Envoy and Kubernetes types. Sources and policy
 * parsing produce it; the Envoy builders consume it.
 */

export type ServerKind = 'triton' | 'tfserving' | 'generic';
export type UpstreamProtocol = 'grpc' | 'http';

/** Retry conditions by their Envoy/Istio names. HTTP ones apply to Envoy; gRPC ones to both. */
export const HTTP_RETRY_CONDITIONS = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'http3-post-connect-failure',
] as const;
export const GRPC_RETRY_CONDITIONS = [
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;
export const RETRY_CONDITIONS = [...HTTP_RETRY_CONDITIONS, ...GRPC_RETRY_CONDITIONS] as const;
export type RetryCondition = (typeof RETRY_CONDITIONS)[number];

/** Where a policy document came from; every error and every IR model carries it. */
export interface PolicySource {
  namespace: string;
  configMap: string;
  key: string;
  /** Position of the document within the key when the key holds a YAML list; 0 otherwise. */
  index: number;
  /** metadata.creationTimestamp of the ConfigMap (ISO 8601); the older owner wins a conflict. */
  createdAt: string;
  resourceVersion?: string;
}

export interface RetryPolicy {
  /** Retries after the first try; 0 disables retries. */
  attempts: number;
  perTryTimeoutMs?: number;
  retryOn: RetryCondition[];
  backoff?: { baseMs: number; maxMs: number };
}

export interface OutlierDetectionPolicy {
  consecutiveErrors?: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
  failurePercentage?: { threshold: number; minimumHosts: number; requestVolume: number };
  successRate?: { stdevFactor: number; minimumHosts: number; requestVolume: number };
}

export interface CircuitBreakerPolicy {
  maxConnections?: number;
  maxPendingRequests?: number;
  maxRequests?: number;
  maxRetries?: number;
}

export interface ProbePolicy {
  enabled: boolean;
  port: string | number;
}

export interface AffinityPolicy {
  /** Lowercase HTTP header name whose value picks the pod. */
  header: string;
}

/**
 * Zone-aware failover: a caller whose node names a zone gets each of the model's clusters with the
 * localities of its own zone at priority 0 and every other zone at priority 1 (see envoy/zone-priorities.ts).
 */
export interface ZoneFailoverPolicy {
  enabled: true;
}

/** Shadow traffic: a share of a model's unpinned requests is copied to one of its backends; answers discarded. */
export interface MirrorPolicy {
  /** The name of one of the policy's backends. */
  backend: string;
  /** Share of requests copied, 0 < percent <= 100, at most 4 decimal places. */
  percent: number;
}

/** A per-sidecar token bucket on a model's routes (Envoy's local rate limit); proxyless gRPC ignores it. */
export interface RateLimitPolicy {
  /** Tokens added each second. */
  requestsPerSecond: number;
  /** Bucket size: requests a sidecar lets through at once after a quiet spell (>= requestsPerSecond). */
  burst: number;
}

/**
 * Scale-from-zero: while none of the model's backends has a ready endpoint, Envoy sidecars hold its requests
 * (ext_proc to the control plane) up to holdForMs instead of failing them at once; proxyless gRPC ignores it.
 */
export interface ColdStartPolicy {
  holdForMs: number;
}

export interface BackendPolicy {
  name: string;
  service: string;
  /** The Service's namespace when not the policy's own (subject to the cross-namespace allow list). */
  namespace?: string;
  /** Service/EndpointSlice port name, or number. */
  port: string | number;
  version?: string;
  weight: number;
}

/** A validated, fully resolved policy for one model (defaults applied). */
export interface ModelPolicy {
  model: string;
  aliases: string[];
  server: ServerKind;
  protocol: UpstreamProtocol;
  backends: BackendPolicy[];
  timeoutMs: number;
  retries: RetryPolicy;
  outlierDetection?: OutlierDetectionPolicy;
  circuitBreaker?: CircuitBreakerPolicy;
  /**
   * Per-model readiness from the model server (issue 14): on by default for triton and tfserving, never for
   * generic. `port` is the Service port (name or number) of the server's REST API on each pod.
   */
  probe: ProbePolicy;
  /** Session affinity: consistent hashing (ring hash) on this request header within a backend; absent = off. */
  affinity?: AffinityPolicy;
  /** Prefer endpoints in the caller's zone, fail over to other zones; absent = off (one flat assignment). */
  zoneFailover?: ZoneFailoverPolicy;
  /** Envoy sidecars only (proxyless gRPC ignores request_mirror_policies); absent = off. */
  mirror?: MirrorPolicy;
  /** Envoy sidecars only; absent = no limit. */
  rateLimit?: RateLimitPolicy;
  /** Envoy sidecars only; absent = requests fail at once while no pod is ready. */
  coldStart?: ColdStartPolicy;
  /**
   * Envoy sidecars only: a JSON request without the model header is routed by its body's top-level "model"
   * (src/envoy/model-from-body.ts), and this model accepts being named so. Absent = off.
   */
  modelFromBody?: true;
  source: PolicySource;
  /** Where each effective value came from, by YAML field path: "policy", "builtin" or "default:<layer>". */
  provenance?: Readonly<Record<string, string>>;
}

/**
 * What the model server itself says about a model on one endpoint (issue 14, src/probe): ready; still
 * loading; not loaded (unknown to it, unloaded, or failed to load); or the pod does not answer its probes.
 */
export type ModelReadinessState = 'ready' | 'loading' | 'not-loaded' | 'probe-failing';

export interface EndpointReadiness {
  state: ModelReadinessState;
  /** The server's own reason, or the probe error. */
  reason?: string;
  /**
   * Probing failed for every endpoint of this backend (blocked, wrong port...): the endpoint routes by pod
   * readiness as without probing, and the problem is reported.
   */
  fallback?: boolean;
}

/** One address:port able to serve, as the IR sees it (from EndpointSlices). */
export interface Endpoint {
  address: string;
  port: number;
  zone?: string;
  /**
   * serving but terminating pods drain: existing connections finish, no new traffic. unhealthy: the pod is
   * ready but the model server says the model is not ready on it (readiness below): no traffic.
   */
  health: 'healthy' | 'draining' | 'unhealthy';
  podName?: string;
  /** The pod's probe port (the policy's probe.port in its EndpointSlice), when the model is probed. */
  probePort?: number;
  /** Set once the model server has been asked about this model on this endpoint. */
  readiness?: EndpointReadiness;
}

export interface Backend {
  name: string;
  version?: string;
  weight: number;
  /** The Envoy cluster (and EDS resource) name for this backend. */
  clusterName: string;
  service: { namespace: string; name: string; port: string | number };
  endpoints: Endpoint[];
}

export interface Model {
  policy: ModelPolicy;
  backends: Backend[];
}

/** The whole routing world handed to the Envoy builders. */
export interface MeshModel {
  models: Model[];
  settings: MeshSettings;
}

export interface MeshSettings {
  modelHeader: string;
  versionHeader: string;
  /** The xds:/// target name proxyless gRPC clients dial; also the API listener and route names. */
  grpcTarget: string;
  sidecarListenerAddress: string;
  sidecarListenerPort: number;
  /** Where cluster-wide defaults ConfigMaps live (the control plane's own namespace). */
  controlPlaneNamespace: string;
  /** Namespaces any policy may route to besides its own. */
  crossNamespaceTargets: readonly string[];
  /** The largest JSON body a sidecar reads to find its "model" (policy modelFromBody). */
  bodyRoutingLimitBytes: number;
}

export const DEFAULT_SETTINGS: MeshSettings = {
  modelHeader: 'x-model',
  versionHeader: 'x-model-version',
  grpcTarget: 'infermesh',
  sidecarListenerAddress: '0.0.0.0',
  sidecarListenerPort: 15001,
  controlPlaneNamespace: 'infermesh-system',
  crossNamespaceTargets: [],
  // Envoy's default per-connection (and so per-request) buffer limit: the listener needs no setting for it.
  bodyRoutingLimitBytes: 1_048_576,
};
