import { createHash } from 'node:crypto';
import { routeRetryPolicy, withoutRetryPolicy } from './route-bytes.ts';

/*
 * The sidecar table names its most common retry policy once, on the virtual host, and drops it from the
 * routes that carry exactly that policy: routes inherit the host's policy when they have none of their own.
 * Every model route carries a policy (an empty one when retries are off), so only error routes, which abort
 * before any upstream attempt, inherit it without having had it. Most meshes run on the default policy, and
 * it is about two thirds of a route's bytes.
 */

export interface RetryPolicy {
  bytes: Uint8Array;
  /** A digest of the policy's bytes: equal keys, equal policies (44 characters kept per route, not the policy as text). */
  key: string;
}

const keyOf = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('base64');

/**
 * Per encoded route (kept across rebuilds, like the routes themselves): its retry policy, and the route
 * without the policy once it has been needed. A rebuild re-reads only new routes.
 */
interface RouteFacts {
  policy?: RetryPolicy;
  withoutPolicy?: Uint8Array;
}
const facts = new WeakMap<Uint8Array, RouteFacts>();

function factsOf(route: Uint8Array): RouteFacts {
  let known = facts.get(route);
  if (!known) {
    const policy = routeRetryPolicy(route);
    known = policy ? { policy: { bytes: policy, key: keyOf(policy) } } : {};
    facts.set(route, known);
  }
  return known;
}

/** The policies of a run of routes, counted: what one model adds to the choice, worked out once per model. */
export interface PolicyRun {
  /** Policy keys in route order (routes without a policy left out). */
  keys: readonly string[];
  counts: ReadonlyMap<string, number>;
  policies: ReadonlyMap<string, RetryPolicy>;
}

export function policyRun(routes: readonly Uint8Array[]): PolicyRun {
  const keys: string[] = [];
  const counts = new Map<string, number>();
  const policies = new Map<string, RetryPolicy>();
  for (const route of routes) {
    const policy = factsOf(route).policy;
    if (!policy) continue;
    keys.push(policy.key);
    counts.set(policy.key, (counts.get(policy.key) ?? 0) + 1);
    policies.set(policy.key, policy);
  }
  return { keys, counts, policies };
}

/**
 * The policy the most routes carry, over runs in table order; in a tie, the one that reached the top count
 * first (what util/most-common.ts picks over the flat list). Adds up per-run counts instead of walking every
 * route; only the run where the winner is decided is read key by key.
 */
export function hostRetryPolicy(runs: readonly PolicyRun[]): RetryPolicy | undefined {
  const totals = new Map<string, number>();
  for (const run of runs) for (const [key, count] of run.counts) totals.set(key, (totals.get(key) ?? 0) + count);
  const top = Math.max(0, ...totals.values());
  if (top === 0) return undefined;
  const candidates = [...totals].filter(([, count]) => count === top).map(([key]) => key);
  const running = new Map<string, number>();
  for (const run of runs) {
    if (!candidates.some((key) => (running.get(key) ?? 0) + (run.counts.get(key) ?? 0) >= top)) {
      for (const key of candidates) running.set(key, (running.get(key) ?? 0) + (run.counts.get(key) ?? 0));
      continue;
    }
    for (const key of run.keys) {
      const count = (running.get(key) ?? 0) + 1;
      running.set(key, count);
      if (count === top && candidates.includes(key)) return run.policies.get(key);
    }
  }
  return undefined;
}

/** The route as the sidecar table holds it: without its policy when that is the host's (by key), else as it is. */
export function underHostPolicy(route: Uint8Array, hostPolicyKey: string | undefined): Uint8Array {
  const known = factsOf(route);
  if (hostPolicyKey === undefined || known.policy?.key !== hostPolicyKey) return route;
  known.withoutPolicy ??= withoutRetryPolicy(route);
  return known.withoutPolicy;
}
