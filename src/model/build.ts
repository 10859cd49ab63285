import { backendClusterName } from '../envoy/names.ts';
import type { EndpointSliceObject } from '../sources/types.ts';
import type { Steps } from '../util/cooperative.ts';
import type { ProbeTarget, ReadinessSource } from '../probe/types.ts';
import { indexSlices, resolveEndpoints } from './endpoints.ts';
import { ProbeTargets, applyReadiness, isProbed } from './readiness.ts';
import { policyWarnings, zoneWarnings } from './policy-warnings.ts';
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
    for (const message of policyWarnings(policy)) warnings.push({ model: policy.model, message });
    const model = buildModel(policy, slicesByService, warnings, probing);
    for (const message of zoneWarnings(model)) warnings.push({ model: policy.model, message });
    models.push(model);
    yield;
  }
  return { models, warnings, probeTargets: probing?.targets.list() ?? [] };
}
