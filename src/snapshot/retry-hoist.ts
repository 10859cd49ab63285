import { hash } from 'node:crypto';
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
  /** A digest of the policy's bytes: equal keys, equal policies. */
  key: string;
}

const keyOf = (bytes: Uint8Array) => hash('sha256', bytes, 'base64');

/**
 * A run of routes (one model's) with the key of each one's retry policy (undefined: none) and how often each
 * key occurs, in the order first seen: what the run adds to the choice, worked out once per model.
 */
export interface PolicyRun {
  routes: readonly Uint8Array[];
  keys: readonly (string | undefined)[];
  counts: readonly (readonly [key: string, count: number])[];
}

export function policyRun(routes: readonly Uint8Array[]): PolicyRun {
  const keys: (string | undefined)[] = [];
  const counts: [string, number][] = [];
  for (const route of routes) {
    const policy = routeRetryPolicy(route);
    const key = policy && keyOf(policy);
    const counted = key === undefined ? undefined : counts.find(([seen]) => seen === key);
    if (counted) counted[1] += 1;
    else if (key !== undefined) counts.push([key, 1]);
    keys.push(counted ? counted[0] : key);
  }
  return { routes, keys, counts };
}

/**
 * The policy the most routes carry, over runs in table order; in a tie, the one that reached the top count
 * first (what util/most-common.ts picks over the flat list). Adds up per-run counts instead of walking every
 * route; only a tie needs a second pass, and only the run where it is decided is read route by route.
 */
export function hostRetryPolicy(runs: readonly PolicyRun[]): RetryPolicy | undefined {
  const totals = new Map<string, number>();
  for (const run of runs) for (const [key, count] of run.counts) totals.set(key, (totals.get(key) ?? 0) + count);
  const top = Math.max(0, ...totals.values());
  if (top === 0) return undefined;
  const candidates = [...totals].filter(([, count]) => count === top).map(([key]) => key);
  if (candidates.length === 1) return policyOf(runs, candidates[0] ?? '');
  const running = new Map<string, number>();
  const countIn = (run: PolicyRun, key: string) => run.counts.find(([seen]) => seen === key)?.[1] ?? 0;
  for (const run of runs) {
    if (!candidates.some((key) => (running.get(key) ?? 0) + countIn(run, key) >= top)) {
      for (const key of candidates) running.set(key, (running.get(key) ?? 0) + countIn(run, key));
      continue;
    }
    for (const [i, key] of run.keys.entries()) {
      if (key === undefined) continue;
      const count = (running.get(key) ?? 0) + 1;
      running.set(key, count);
      const bytes = count === top && candidates.includes(key) ? routeRetryPolicy(run.routes[i] ?? new Uint8Array()) : undefined;
      if (bytes) return { bytes, key };
    }
  }
  return undefined;
}

/** The policy of the first route carrying `key`. */
function policyOf(runs: readonly PolicyRun[], key: string): RetryPolicy | undefined {
  for (const run of runs) {
    const at = run.keys.indexOf(key);
    const bytes = at >= 0 ? routeRetryPolicy(run.routes[at] ?? new Uint8Array()) : undefined;
    if (bytes) return { bytes, key };
  }
  return undefined;
}

/** Route `i` of a run as the sidecar table holds it: without its policy when that is the host's, else as it is. */
export function underHostPolicy(run: PolicyRun, i: number, host: RetryPolicy | undefined): Uint8Array {
  const route = run.routes[i] ?? new Uint8Array();
  return host !== undefined && run.keys[i] === host.key ? withoutRetryPolicy(route) : route;
}
