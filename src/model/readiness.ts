import { modelRefKey, type ModelRef, type ProbedServerKind, type ProbeTarget, type ReadinessSource } from '../probe/types.ts';
import type { Endpoint, EndpointReadiness, ModelPolicy } from './types.ts';

/** What the build learns about probing: the targets to probe next, and per backend what happened. */
export interface ReadinessOutcome {
  endpoints: Endpoint[];
  /** Set when probing failed for every endpoint and the backend routes by pod readiness instead. */
  warning?: string;
}

interface Remembered {
  signature: string;
  outcome: ReadinessOutcome;
}

/**
 * The last outcome per serving endpoint list: while nothing the servers say changes, the same endpoint objects
 * come back, so the encoded ClusterLoadAssignment is reused by identity (src/snapshot/encode-model.ts).
 */
const remembered = new WeakMap<readonly Endpoint[], Map<string, Remembered>>();

function probedServer(policy: ModelPolicy): ProbedServerKind | undefined {
  return policy.probe.enabled && (policy.server === 'triton' || policy.server === 'tfserving') ? policy.server : undefined;
}

/**
 * Endpoints as the model server sees them: a pod that is ready but does not have the model (or the version)
 * ready becomes unhealthy, with the server's reason. What was never answered routes by pod readiness; while no
 * server of the backend answers and some fail (a NetworkPolicy, a wrong port), they all do, and the backend
 * says so. A pod that fails while others answer is unhealthy.
 */
export function applyReadiness(
  policy: ModelPolicy,
  ref: ModelRef,
  endpoints: readonly Endpoint[],
  probePorts: ReadonlyMap<string, number>,
  source: ReadinessSource,
): ReadinessOutcome {
  const answers = endpoints.map((endpoint) => {
    const port = probePorts.get(endpoint.address);
    if (endpoint.health !== 'healthy' || port === undefined) return undefined;
    const answer = source.lookup(endpoint.address, port, ref);
    return answer && { port, readiness: { state: answer.state, ...(answer.reason !== undefined ? { reason: answer.reason } : {}) } satisfies EndpointReadiness };
  });
  // No server of this backend has said anything, and some cannot be reached: probing does not work here (yet),
  // so nobody is judged by it. Waiting for every pod to fail first would mark the first ones to fail
  // unhealthy while the others are still unanswered, a flap at every start where probes are blocked.
  const probed = answers.filter((answer) => answer !== undefined);
  const fallback = probed.length > 0 && probed.every((answer) => answer.readiness.state === 'probe-failing');
  const signature = answers.map((answer) => (answer ? `${answer.port} ${answer.readiness.state} ${answer.readiness.reason ?? ''}` : '-')).join('\n') + (fallback ? '\nF' : '');
  const key = `${policy.model}\u0000${modelRefKey(ref)}`;
  const byModel = remembered.get(endpoints) ?? new Map<string, Remembered>();
  const last = byModel.get(key);
  if (last?.signature === signature) return last.outcome;
  const outcome: ReadinessOutcome = {
    endpoints: endpoints.map((endpoint, index) => {
      const answer = answers[index];
      if (!answer) return endpoint;
      const readiness: EndpointReadiness = fallback ? { ...answer.readiness, fallback: true } : answer.readiness;
      const health = fallback || readiness.state === 'ready' ? endpoint.health : 'unhealthy';
      return { ...endpoint, health, probePort: answer.port, readiness };
    }),
  };
  if (fallback) {
    const reason = probed[0]?.readiness.reason ?? 'no answer';
    outcome.warning = `probing ${policy.server} failed on every endpoint (${reason}); routing by pod readiness until a probe answers`;
  }
  byModel.set(key, { signature, outcome });
  remembered.set(endpoints, byModel);
  return outcome;
}

/** Gathers, across models, each pod to probe and every (model, version) it should serve. */
export class ProbeTargets {
  readonly #byPod = new Map<string, { target: ProbeTarget; models: Map<string, ModelRef> }>();

  add(policy: ModelPolicy, ref: ModelRef, endpoints: readonly Endpoint[], probePorts: ReadonlyMap<string, number>): void {
    const server = probedServer(policy);
    if (!server) return;
    for (const endpoint of endpoints) {
      const port = probePorts.get(endpoint.address);
      if (endpoint.health !== 'healthy' || port === undefined) continue;
      const key = `${server} ${endpoint.address}:${port}`;
      let pod = this.#byPod.get(key);
      if (!pod) {
        const models = new Map<string, ModelRef>();
        pod = { target: { server, address: endpoint.address, port, models: [], ...(endpoint.podName ? { podName: endpoint.podName } : {}) }, models };
        this.#byPod.set(key, pod);
      }
      pod.models.set(modelRefKey(ref), ref);
    }
  }

  list(): ProbeTarget[] {
    return [...this.#byPod.values()].map(({ target, models }) => ({ ...target, models: [...models.values()] }));
  }
}

/** Whether the build should look at probing for this policy at all. */
export function isProbed(policy: ModelPolicy): boolean {
  return probedServer(policy) !== undefined;
}
