import type { Model } from '../model/types.ts';
import type { ConfigMapObject } from '../sources/types.ts';
import { modelEndpoints, whyNoneServing } from '../status/model-endpoints.ts';

/** Writes one Event on a ConfigMap (PolicyEventRecorder.report: same sink, rate limit and deduplication). */
export type ReportEvent = (cm: ConfigMapObject, type: 'Warning' | 'Normal', reason: string, message: string, action: string, forget: () => void) => Promise<void>;

export interface ReadinessEventOptions {
  report: ReportEvent;
  /** Only the leader writes; followers keep track so a new leader does not repeat old news. */
  isLeader: () => boolean;
}

export const NO_READY_ENDPOINTS = 'NoReadyEndpoints';
export const READY_ENDPOINTS = 'EndpointsReady';

/** Why none of a served model's endpoints gets traffic, for its Event. */
export function noReadyEndpointsMessage(model: Model): string {
  const view = modelEndpoints(model);
  const probing = view.counts['probe-failing'] > 0 ? '; probing fails on some of its pods (the rest do not have the model ready): check the policy\'s probe.port and any network policy between the control plane and the pods' : '';
  return `model ${view.model} has no ready endpoints, its requests fail: ${whyNoneServing(view) || 'no backends'}${probing}`;
}

/**
 * A Warning NoReadyEndpoints on the policy's ConfigMap when a served model goes from some endpoint getting
 * traffic to none (no pods, the model not loaded or loading on any, or probes failing), and a Normal
 * EndpointsReady when it has some again: once per transition, never per reconcile.
 */
export class ReadinessEventRecorder {
  readonly #options: ReadinessEventOptions;
  /** Models (by name) last seen with zero endpoints getting traffic, and the ConfigMap their policy lives in. */
  readonly #none = new Map<string, string>();

  constructor(options: ReadinessEventOptions) {
    this.#options = options;
  }

  async observe(configMaps: readonly ConfigMapObject[], models: readonly Model[]): Promise<void> {
    const byName = new Map(configMaps.map((cm) => [`${cm.namespace}/${cm.name}`, cm]));
    const pending: Promise<void>[] = [];
    const seen = new Set<string>();
    for (const model of models) {
      const name = model.policy.model;
      const where = `${model.policy.source.namespace}/${model.policy.source.configMap}`;
      seen.add(name);
      const cm = byName.get(where);
      const none = !model.backends.some((backend) => backend.endpoints.some((endpoint) => endpoint.health === 'healthy'));
      const before = this.#none.get(name);
      if (none) this.#none.set(name, where);
      else this.#none.delete(name);
      if (!cm || !this.#options.isLeader()) continue;
      if (none && before === undefined) {
        pending.push(this.#options.report(cm, 'Warning', NO_READY_ENDPOINTS, noReadyEndpointsMessage(model), 'Route', () => this.#none.delete(name)));
      } else if (!none && before !== undefined) {
        const serving = modelEndpoints(model).serving;
        pending.push(this.#options.report(cm, 'Normal', READY_ENDPOINTS, `model ${name} has ${serving} ready endpoint${serving === 1 ? '' : 's'} again`, 'Route', () => this.#none.set(name, where)));
      }
    }
    for (const name of [...this.#none.keys()]) if (!seen.has(name)) this.#none.delete(name);
    await Promise.all(pending);
  }
}
