import { backendClusterName } from '../envoy/names.ts';
import type { EndpointSliceObject } from '../sources/types.ts';
import type { Steps } from '../util/cooperative.ts';
import { indexSlices, resolveEndpoints } from './endpoints.ts';
import type { Model, ModelPolicy } from './types.ts';

export interface BuiltModels {
  models: Model[];
  warnings: { model: string; message: string }[];
}

/** Equal split when no backend sets a weight (the policy layer turns "omitted everywhere" into equal weights). */
function buildModel(policy: ModelPolicy, slicesByService: ReturnType<typeof indexSlices>, warnings: BuiltModels['warnings']): Model {
  const backends = policy.backends.map((backend) => {
    const service = { namespace: backend.namespace ?? policy.source.namespace, name: backend.service, port: backend.port };
    const resolved = resolveEndpoints(service, slicesByService);
    for (const message of resolved.warnings) warnings.push({ model: policy.model, message });
    return {
      name: backend.name,
      ...(backend.version !== undefined ? { version: backend.version } : {}),
      weight: backend.weight,
      clusterName: backendClusterName(policy.model, backend.name),
      service,
      endpoints: resolved.endpoints,
    };
  });
  return { policy, backends };
}

/** Joins accepted policies with the endpoints their Services have, yielding after each model. Pure; sorted by model name. */
export function* buildModelSteps(policies: readonly ModelPolicy[], slices: readonly EndpointSliceObject[]): Steps<BuiltModels> {
  const slicesByService = indexSlices(slices);
  yield;
  const warnings: BuiltModels['warnings'] = [];
  const models: Model[] = [];
  for (const policy of [...policies].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0))) {
    models.push(buildModel(policy, slicesByService, warnings));
    yield;
  }
  return { models, warnings };
}
