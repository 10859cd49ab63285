import type { Gauge } from 'prom-client';
import type { ModelStatus } from '../controller/reconcile.ts';
import type { Model } from '../model/types.ts';
import type { ModelEndpoints } from '../status/model-endpoints.ts';
import type { ModelRollout } from '../xds/rollout.ts';

/**
 * What infermesh_model_problem{model,problem} names: a series exists only while the model is in that state,
 * so alerts can name the model and cardinality stays bounded by the models in trouble.
 */
export type ModelProblem = 'degraded' | 'not_live' | 'rejected' | 'conflict' | 'stale' | 'no_ready_endpoints';

/**
 * A set of infermesh_model_problem series owned by one writer (the controller for policy and endpoint
 * problems, the rollout evaluation for degraded and not_live): each record() replaces what this writer set
 * before, so a model that left a state loses its series and the other writer's series are untouched.
 */
export class ModelProblemsGauge {
  readonly #gauge: Gauge<'model' | 'problem'>;
  #current = new Map<string, { model: string; problem: ModelProblem }>();

  constructor(gauge: Gauge<'model' | 'problem'>) {
    this.#gauge = gauge;
  }

  record(problems: Iterable<{ model: string; problem: ModelProblem }>): void {
    const next = new Map<string, { model: string; problem: ModelProblem }>();
    for (const entry of problems) next.set(`${entry.model}\0${entry.problem}`, { model: entry.model, problem: entry.problem });
    for (const [key, labels] of this.#current) if (!next.has(key)) this.#gauge.remove(labels);
    for (const [key, labels] of next) if (!this.#current.has(key)) this.#gauge.set(labels, 1);
    this.#current = next;
  }
}

/** The controller's problems: a policy not what serves (stale, rejected, conflict), or no endpoint getting traffic. */
export function policyProblems(statuses: readonly ModelStatus[], endpoints: readonly ModelEndpoints[]): { model: string; problem: ModelProblem }[] {
  const problems: { model: string; problem: ModelProblem }[] = [];
  for (const status of statuses) if (status.state !== 'serving') problems.push({ model: status.model, problem: status.state });
  for (const view of endpoints) if (view.serving === 0) problems.push({ model: view.model, problem: 'no_ready_endpoints' });
  return problems;
}

/** The rollout's problems: a proxy NACKed the model's latest change (degraded), or some proxy has not ACKed it yet (not_live). */
export function rolloutProblems(rollouts: readonly ModelRollout[]): { model: string; problem: ModelProblem }[] {
  const problems: { model: string; problem: ModelProblem }[] = [];
  for (const rollout of rollouts) {
    if (rollout.state === 'degraded') problems.push({ model: rollout.model, problem: 'degraded' });
    else if (rollout.state === 'pending') problems.push({ model: rollout.model, problem: 'not_live' });
  }
  return problems;
}

/**
 * infermesh_backend_info{model,backend,version} = 1 per served backend (version "" when the policy gives
 * none): Envoy's stats carry model and backend only, and the recording rules join the version from here.
 */
export class BackendInfoGauge {
  readonly #gauge: Gauge<'model' | 'backend' | 'version'>;
  #current = new Map<string, { model: string; backend: string; version: string }>();

  constructor(gauge: Gauge<'model' | 'backend' | 'version'>) {
    this.#gauge = gauge;
  }

  record(models: readonly Model[]): void {
    const next = new Map<string, { model: string; backend: string; version: string }>();
    for (const model of models) {
      for (const backend of model.backends) {
        const labels = { model: model.policy.model, backend: backend.name, version: backend.version ?? '' };
        next.set(`${labels.model}\0${labels.backend}\0${labels.version}`, labels);
      }
    }
    for (const [key, labels] of this.#current) if (!next.has(key)) this.#gauge.remove(labels);
    for (const [key, labels] of next) if (!this.#current.has(key)) this.#gauge.set(labels, 1);
    this.#current = next;
  }
}
