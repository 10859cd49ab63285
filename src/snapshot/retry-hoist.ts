import { type Steps } from '../util/cooperative.ts';
import { mostCommon } from '../util/most-common.ts';
import { routeRetryPolicy, withoutRetryPolicy, type NamedRouteBytes } from './route-bytes.ts';

/**
 * The sidecar table names its most common retry policy once, on the virtual host, and drops it from the
 * routes that carry exactly that policy: routes inherit the host's policy when they have none of their own.
 * Every model route carries a policy (an empty one when retries are off), so only error routes, which abort
 * before any upstream attempt, inherit it without having had it. Most meshes run on the default policy, and
 * it is about two thirds of a route's bytes.
 */
export interface HoistedRoutes {
  named: NamedRouteBytes[];
  fallback: Uint8Array[];
  hostRetryPolicy?: Uint8Array;
}

const keyOf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/**
 * Per encoded route (kept across rebuilds, like the routes themselves): its retry policy and that policy's
 * key, and the route without the policy once it has been needed. A rebuild re-reads only changed routes.
 */
interface RouteFacts {
  policy?: { bytes: Uint8Array; key: string };
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

function strip(route: Uint8Array, policyKey: string): Uint8Array {
  const known = factsOf(route);
  if (known.policy?.key !== policyKey) return route;
  known.withoutPolicy ??= withoutRetryPolicy(route);
  return known.withoutPolicy;
}

/** Yields after each model's routes: the first look at a route parses it. */
export function* hoistRetryPolicy(named: readonly NamedRouteBytes[], fallback: readonly Uint8Array[]): Steps<HoistedRoutes> {
  for (const group of named) {
    for (const route of group.routes) factsOf(route);
    yield;
  }
  for (const route of fallback) {
    factsOf(route);
    yield;
  }
  const carrier = mostCommon([...named.flatMap((group) => group.routes), ...fallback], (route) => factsOf(route).policy?.key);
  const policy = carrier && factsOf(carrier).policy;
  if (!policy) return { named: [...named], fallback: [...fallback] };
  const { key } = policy;
  const stripped: NamedRouteBytes[] = [];
  for (const group of named) {
    stripped.push({ name: group.name, routes: group.routes.map((route) => strip(route, key)) });
    yield;
  }
  const strippedFallback: Uint8Array[] = [];
  for (const route of fallback) {
    strippedFallback.push(strip(route, key));
    yield;
  }
  return { named: stripped, fallback: strippedFallback, hostRetryPolicy: policy.bytes };
}
