import { backendClusterName } from '../envoy/names.ts';
import type { EndpointSliceObject } from '../sources/types.ts';
import type { Steps } from '../util/cooperative.ts';
import type { ProbeTarget, ReadinessSource } from '../probe/types.ts';
import { indexSlices, resolveEndpoints } from './endpoints.ts';
import { ProbeTargets, applyReadiness, isProbed } from './readiness.ts';
import type { Endpoint, Model, ModelPolicy } from './types.ts';

export interface BuiltModels {
  models: Model[];
  warnings: { model: string; message: string }[];
  /** The model-server pods to probe and the models each should have (empty without a readiness source). */
  probeTargets: ProbeTarget[];
}

/** Per-model readiness while building: where answers come from, and where the next targets go. */
interface Probing {
  source: ReadinessSource;
  targets: ProbeTargets;
}

/** Each pod's probe port (the policy's probe.port in the same Service's slices), by address. */
function probePortsOf(service: { namespace: string; name: string }, port: string | number, slicesByService: ReturnType<typeof indexSlices>) {
  const resolved = resolveEndpoints({ ...service, port }, slicesByService);
  return { ports: new Map(resolved.endpoints.map((endpoint: Endpoint) => [endpoint.address, endpoint.port])), warnings: resolved.warnings };
}

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

function zoneWarnings(model: Model): string[] {
  const endpoints = model.backends.flatMap((backend) => backend.endpoints);
  return model.policy.zoneFailover && endpoints.length > 0 && endpoints.every((endpoint) => endpoint.zone === undefined) ? [ZONE_FAILOVER_NO_ZONES] : [];
}

/** Equal split when no backend sets a weight (the policy layer turns "omitted everywhere" into equal weights). */
function buildModel(policy: ModelPolicy, slicesByService: ReturnType<typeof indexSlices>, warnings: BuiltModels['warnings'], probing: Probing | undefined): Model {
  const backends = policy.backends.map((backend) => {
    const service = { namespace: backend.namespace ?? policy.source.namespace, name: backend.service, port: backend.port };
    const resolved = resolveEndpoints(service, slicesByService);
    for (const message of resolved.warnings) warnings.push({ model: policy.model, message });
    let endpoints = resolved.endpoints;
    if (probing && isProbed(policy)) {
      const ref = { model: policy.model, ...(backend.version !== undefined ? { version: backend.version } : {}) };
      const { ports: probePorts, warnings: portWarnings } = probePortsOf(service, policy.probe.port, slicesByService);
      for (const message of portWarnings) warnings.push({ model: policy.model, message: `probe.port: ${message}; those endpoints are not probed` });
      probing.targets.add(policy, ref, endpoints, probePorts);
      const outcome = applyReadiness(policy, ref, endpoints, probePorts, probing.source);
      if (outcome.warning) warnings.push({ model: policy.model, message: `backend ${backend.name}: ${outcome.warning}` });
      endpoints = outcome.endpoints;
    }
    return {
      name: backend.name,
      ...(backend.version !== undefined ? { version: backend.version } : {}),
      weight: backend.weight,
      clusterName: backendClusterName(policy.model, backend.name),
      service,
      endpoints,
    };
  });
  return { policy, backends };
}

/** Joins accepted policies with the endpoints their Services have, yielding after each model. Pure; sorted by model name. */
export function* buildModelSteps(policies: readonly ModelPolicy[], slices: readonly EndpointSliceObject[], readiness?: ReadinessSource): Steps<BuiltModels> {
  const slicesByService = indexSlices(slices);
  yield;
  const warnings: BuiltModels['warnings'] = [];
  const models: Model[] = [];
  const probing = readiness && { source: readiness, targets: new ProbeTargets() };
  for (const policy of [...policies].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0))) {
    if (policy.affinity) warnings.push({ model: policy.model, message: AFFINITY_PROXYLESS });
    if (policy.rateLimit) warnings.push({ model: policy.model, message: RATE_LIMIT_PROXYLESS });
    if (policy.coldStart) warnings.push({ model: policy.model, message: COLD_START_PROXYLESS });
    if (policy.modelFromBody) warnings.push({ model: policy.model, message: MODEL_FROM_BODY_PROXYLESS });
    for (const message of mirrorWarnings(policy)) warnings.push({ model: policy.model, message });
    const model = buildModel(policy, slicesByService, warnings, probing);
    for (const message of zoneWarnings(model)) warnings.push({ model: policy.model, message });
    models.push(model);
    yield;
  }
  return { models, warnings, probeTargets: probing?.targets.list() ?? [] };
}
