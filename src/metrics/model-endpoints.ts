import type { Gauge } from 'prom-client';
import { ENDPOINT_STATES, type ModelEndpoints } from '../status/model-endpoints.ts';

/**
 * Sets infermesh_model_endpoints{model,state} from one reconcile: every state of every served model (zeros
 * included, so `state="ready"} == 0` can alert), and the label sets of models no longer served removed.
 */
export class ModelEndpointsGauge {
  readonly #gauge: Gauge<'model' | 'state'>;
  #models = new Set<string>();

  constructor(gauge: Gauge<'model' | 'state'>) {
    this.#gauge = gauge;
  }

  record(views: readonly ModelEndpoints[]): void {
    const current = new Set<string>();
    for (const view of views) {
      current.add(view.model);
      for (const state of ENDPOINT_STATES) this.#gauge.set({ model: view.model, state }, view.counts[state]);
    }
    for (const model of this.#models) {
      if (!current.has(model)) for (const state of ENDPOINT_STATES) this.#gauge.remove({ model, state });
    }
    this.#models = current;
  }
}
