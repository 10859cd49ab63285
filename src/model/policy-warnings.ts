/**
 * What `validate` and `/status` say about a model's traffic policies that is not an error: what a data plane
 * does not do (proxyless gRPC and the Envoy-only policies, as measured in test/interop), and settings that
 * cannot act as written. Pure: from the policy, or from the built model where endpoints matter.
 */
import type { Model, ModelPolicy } from './types.ts';

/** gRPC has no local rate limit filter: proxyless clients ignore the (optional) per-table override. */
export const RATE_LIMIT_PROXYLESS = 'rateLimit: applies in Envoy sidecars only; proxyless gRPC clients (xds:///) are not limited (not supported by gRPC)';

/** Body routing is two Lua filters in the sidecar listener; proxyless gRPC clients send protobuf, and run no filters. */
export const MODEL_FROM_BODY_PROXYLESS = 'modelFromBody: applies in Envoy sidecars only (JSON REST requests); proxyless gRPC clients (xds:///) must name the model in the header or their target';

/** gRPC clients ignore request_mirror_policies (they accept the route): calls from proxyless clients are not copied. */
export const MIRROR_PROXYLESS = 'mirror: applies in Envoy sidecars only; calls from proxyless gRPC clients (xds:///) are not copied (not supported by gRPC)';

/**
 * On-demand CDS loads only the cluster a route sends a request to, never a mirror target, and Envoy skips a
 * copy whose cluster it does not hold: a weight-0 mirror backend receives copies only on sidecars that have
 * sent it a request of their own (a version pin).
 */
function mirrorWarnings(policy: ModelPolicy): string[] {
  const mirror = policy.mirror;
  if (!mirror) return [];
  const backend = policy.backends.find((candidate) => candidate.name === mirror.backend);
  const loaded = backend && backend.weight === 0
    ? [`mirror: backend ${mirror.backend} has weight 0, so a sidecar loads its cluster (on-demand CDS) only once it sends it a request pinned to version ${backend.version ?? '(none)'}; until then that sidecar sends no copies`]
    : [];
  return [MIRROR_PROXYLESS, ...loaded];
}

/** gRPC has no ext_proc: proxyless clients ignore the optional per-table override; waitForReady with a deadline does the same for them. */
export const COLD_START_PROXYLESS = 'coldStart: applies in Envoy sidecars only; proxyless gRPC clients (xds:///) are not held (not supported by gRPC): they fail at once with UNAVAILABLE unless the call sets waitForReady, which waits up to the call deadline';

/** Measured (test/interop/affinity-proxyless.test.ts): grpc-js-xds 1.14, grpcio 1.85 and grpc-go 1.85 hash; Debian's grpcio 1.51 crashes. */
export const AFFINITY_PROXYLESS =
  'affinity: proxyless grpc-js-xds (1.14), gRPC C-core 1.85 and grpc-go (1.85) hash on the header (C-core between 1.51 and 1.85 untested); gRPC C-core 1.51 (Debian 12 python3-grpcio) crashes (SIGSEGV) on its RING_HASH clusters, for a call to any model through xds:///<grpc target>: such clients must not call this model and must dial other models by their own target (xds:///<grpc target>/<model>)';

/**
 * Zone failover orders a caller's endpoints by the zones the EndpointSlices give them: with no zone on any of
 * the model's endpoints (a cluster whose nodes carry no topology.kubernetes.io/zone label), it does nothing.
 */
export const ZONE_FAILOVER_NO_ZONES = 'zoneFailover: none of this model\'s endpoints has a zone (EndpointSlice endpoints[].zone, from the node\'s topology.kubernetes.io/zone label), so every caller gets every endpoint at one priority: no zone is preferred and there is no failover order';

/** The warnings that depend on the built model's endpoints. */
export function zoneWarnings(model: Model): string[] {
  const endpoints = model.backends.flatMap((backend) => backend.endpoints);
  return model.policy.zoneFailover && endpoints.length > 0 && endpoints.every((endpoint) => endpoint.zone === undefined) ? [ZONE_FAILOVER_NO_ZONES] : [];
}

/** The warnings a policy gives whatever its endpoints, in a stable order. */
export function policyWarnings(policy: ModelPolicy): string[] {
  return [
    ...(policy.affinity ? [AFFINITY_PROXYLESS] : []),
    ...(policy.rateLimit ? [RATE_LIMIT_PROXYLESS] : []),
    ...(policy.coldStart ? [COLD_START_PROXYLESS] : []),
    ...(policy.modelFromBody ? [MODEL_FROM_BODY_PROXYLESS] : []),
    ...mirrorWarnings(policy),
  ];
}
