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

/** The policy carried by the most routes; the first one seen wins a tie. */
function mostCommonPolicy(routes: Iterable<Uint8Array>): Uint8Array | undefined {
  const counts = new Map<string, { bytes: Uint8Array; count: number }>();
  let best: { bytes: Uint8Array; count: number } | undefined;
  for (const route of routes) {
    const policy = routeRetryPolicy(route);
    if (!policy) continue;
    const key = keyOf(policy);
    const entry = counts.get(key) ?? { bytes: policy, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
    if (!best || entry.count > best.count) best = entry;
  }
  return best?.bytes;
}

/** Stripped routes by original bytes and policy, so a rebuild re-strips only changed models' routes. */
const stripped = new WeakMap<Uint8Array, { policy: string; bytes: Uint8Array }>();

function strip(route: Uint8Array, policyKey: string): Uint8Array {
  const known = stripped.get(route);
  if (known?.policy === policyKey) return known.bytes;
  const own = routeRetryPolicy(route);
  const bytes = own && keyOf(own) === policyKey ? withoutRetryPolicy(route) : route;
  stripped.set(route, { policy: policyKey, bytes });
  return bytes;
}

export function hoistRetryPolicy(named: readonly NamedRouteBytes[], fallback: readonly Uint8Array[]): HoistedRoutes {
  const policy = mostCommonPolicy([...named.flatMap((group) => group.routes), ...fallback]);
  if (!policy) return { named: [...named], fallback: [...fallback] };
  const key = keyOf(policy);
  return {
    named: named.map((group) => ({ name: group.name, routes: group.routes.map((route) => strip(route, key)) })),
    fallback: fallback.map((route) => strip(route, key)),
    hostRetryPolicy: policy,
  };
}
