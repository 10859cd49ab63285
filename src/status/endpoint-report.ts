import type { Model, ModelPolicy } from '../model/types.ts';
import { ModelEndpointsGauge } from '../metrics/model-endpoints.ts';
import type { Metrics } from '../metrics/metrics.ts';
import { allModelEndpoints, type ModelEndpoints } from './model-endpoints.ts';

/** The built models that serve (a rejected model's endpoints route nothing, so they are not reported). */
export function servedModels(result: { models: readonly Model[]; served: readonly ModelPolicy[] }): Model[] {
  const served = new Set(result.served.map((policy) => policy.model));
  return result.models.filter((model) => served.has(model.policy.model));
}

/** Each reconcile: the per-endpoint view for /status, and infermesh_model_endpoints set from it. */
export class EndpointReport {
  readonly #gauge: ModelEndpointsGauge;

  constructor(metrics: Pick<Metrics, 'modelEndpoints'>) {
    this.#gauge = new ModelEndpointsGauge(metrics.modelEndpoints);
  }

  update(models: readonly Model[]): ModelEndpoints[] {
    const views = allModelEndpoints(models);
    this.#gauge.record(views);
    return views;
  }
}
