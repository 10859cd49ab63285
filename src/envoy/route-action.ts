import type { Backend, Model, RetryCondition } from '../model/types.ts';
import { durationMessage } from '../util/duration.ts';
import type { RetryPolicy, RouteAction } from './messages.ts';
import { typedConfig } from './typed-config.ts';
import { uint32Value } from './wrappers.ts';

/** An explicit "no retries": a route's own policy replaces the virtual host's, and one with no conditions never retries. */
export const NO_RETRIES: RetryPolicy = {};

/** The HTTP status of each gRPC condition name, as google.rpc.Code maps them. */
const HTTP_STATUS: Partial<Record<RetryCondition, number>> = {
  cancelled: 499,
  'deadline-exceeded': 504,
  internal: 500,
  'resource-exhausted': 429,
  unavailable: 503,
};

/**
 * Envoy matches the gRPC names against a response's grpc-status only, so a `protocol: http` pod answering
 * 503 would never be retried on `unavailable` (nor by the default policy). For those models the gRPC names
 * also retry their HTTP statuses, as retriable status codes.
 */
function retryConditions(model: Model): RetryPolicy {
  const names = model.policy.retries.retryOn;
  const codes = model.policy.protocol === 'http' ? [...new Set(names.flatMap((name) => HTTP_STATUS[name] ?? []))].sort((a, b) => a - b) : [];
  if (codes.length === 0) return { retry_on: names.join(',') };
  return { retry_on: [...names, 'retriable-status-codes'].join(','), retriable_status_codes: codes };
}

/**
 * Envoy accepts HTTP and gRPC condition names in one list; gRPC clients use the gRPC names and ignore the rest.
 * Every model route carries a policy (NO_RETRIES when retries are off), so the sidecar table may move the
 * most common one up to its virtual host without another route inheriting it by accident.
 */
export function retryPolicy(model: Model): RetryPolicy {
  const retries = model.policy.retries;
  if (retries.attempts === 0 || retries.retryOn.length === 0) return NO_RETRIES;
  const policy: RetryPolicy = {
    ...retryConditions(model),
    num_retries: uint32Value(retries.attempts),
    // Retry on a different endpoint than the ones that already failed this request.
    retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: typedConfig('previousHosts', {}) }],
    host_selection_retry_max_attempts: 3,
  };
  if (retries.perTryTimeoutMs !== undefined) policy.per_try_timeout = durationMessage(retries.perTryTimeoutMs);
  if (retries.backoff) {
    policy.retry_back_off = {
      base_interval: durationMessage(retries.backoff.baseMs),
      max_interval: durationMessage(retries.backoff.maxMs),
    };
  }
  return policy;
}

/**
 * Timeout for both data planes: Envoy reads `timeout`; gRPC clients read max_stream_duration (gRFC A31).
 */
function timeouts(model: Model): RouteAction {
  const timeout = durationMessage(model.policy.timeoutMs);
  return { timeout, max_stream_duration: { max_stream_duration: timeout } };
}

/**
 * Session affinity: hash on the policy's header; the clusters use RING_HASH (cluster.ts), the one consistent
 * hash both Envoy and proxyless gRPC clients (gRFC A42) apply. A request without the header gets a random pod.
 */
function hashPolicy(model: Model): RouteAction {
  const affinity = model.policy.affinity;
  return affinity ? { hash_policy: [{ header: { header_name: affinity.header } }] } : {};
}

function withPolicy(model: Model, target: RouteAction): RouteAction {
  return { ...target, ...timeouts(model), retry_policy: retryPolicy(model), ...hashPolicy(model) };
}

/** Route action sending to exactly one backend (a version pin). */
export function singleBackendAction(model: Model, backend: Backend): RouteAction {
  return withPolicy(model, { cluster: backend.clusterName });
}

export function hasHealthyEndpoint(backend: Backend): boolean {
  return backend.endpoints.some((endpoint) => endpoint.health === 'healthy');
}

/**
 * The backends that share the split: positive weight, and at least one healthy endpoint so that a backend
 * scaled to zero (or not ready yet) does not fail its share of requests. When none has endpoints, all
 * weighted backends stay in, and requests fail as they must.
 */
export function splitBackends(model: Model): Backend[] {
  const weighted = model.backends.filter((backend) => backend.weight > 0);
  const serving = weighted.filter(hasHealthyEndpoint);
  return serving.length > 0 ? serving : weighted;
}

/**
 * The weighted split across a model's backends. Zero-weight backends stay reachable by version pin but get
 * no share. total_weight is set to the sum because gRPC 1.51 requires it (it defaults to 100 otherwise).
 */
export function splitAction(model: Model): RouteAction {
  const weighted = splitBackends(model);
  const only = weighted[0];
  if (weighted.length === 1 && only) return { ...withPolicy(model, { cluster: only.clusterName }), ...mirrorPolicies(model) };
  const total = weighted.reduce((sum, backend) => sum + backend.weight, 0);
  return {
    ...withPolicy(model, {
      weighted_clusters: {
        clusters: weighted.map((backend) => ({ name: backend.clusterName, weight: uint32Value(backend.weight) })),
        total_weight: uint32Value(total),
      },
    }),
    ...mirrorPolicies(model),
  };
}

/**
 * Shadow traffic (policy `mirror`), on split routes only: a version pin is the caller's choice of one
 * backend, and copying it (a pin to the mirror backend itself would reach it twice) says nothing about how
 * the mirror backend handles the production mix. The percent goes as a fraction of a million so that up to
 * 4 decimal places survive; MILLION is not the enum default (HUNDRED), so the encoding stays canonical.
 * gRPC clients ignore the field (Envoy only).
 */
function mirrorPolicies(model: Model): RouteAction {
  const mirror = model.policy.mirror;
  const backend = mirror && model.backends.find((candidate) => candidate.name === mirror.backend);
  if (!mirror || !backend) return {};
  const numerator = Math.round(mirror.percent * 10_000);
  return { request_mirror_policies: [{ cluster: backend.clusterName, runtime_fraction: { default_value: { numerator, denominator: 'MILLION' } } }] };
}
