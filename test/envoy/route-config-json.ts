import { SIDECAR_ROUTE_CONFIG } from '../../src/envoy/names.ts';
import { VIRTUAL_HOST, missingHeaderRoute, unknownModelRoute, type ModelRoutes } from '../../src/envoy/route-config.ts';
import { modelHeaderInput } from '../../src/envoy/sidecar-route-config.ts';
import type { RetryPolicy, Route, RouteConfiguration, VirtualHost } from '../../src/envoy/messages.ts';
import { typedConfig } from '../../src/envoy/typed-config.ts';
import type { MeshSettings } from '../../src/model/types.ts';
import { mostCommon } from '../../src/util/most-common.ts';

/**
 * The two RouteConfigurations as typed messages, built from the builders' per-model routes: the JSON twins of
 * what src/snapshot assembles from encoded bytes, kept for tests that compare the two or walk the tables.
 */

function hostHead(): VirtualHost {
  return { name: VIRTUAL_HOST.name, domains: [...VIRTUAL_HOST.domains] };
}

/** Routes for requests no model name selects: unknown model, then REST paths, then the missing-header error. */
export function fallbackRoutes(parts: readonly ModelRoutes[], settings: MeshSettings): Route[] {
  return [unknownModelRoute(settings), ...parts.flatMap((part) => part.pathRoutes), missingHeaderRoute()];
}

/**
 * The RouteConfiguration of the proxyless gRPC API listener, as a typed message: a list, because gRPC clients do not
 * support matcher trees. Per-model header routes, then the fallback routes. (The snapshot assembles the
 * same bytes from encoded routes; this twin lets tests check them.)
 */
export function routeConfiguration(parts: readonly ModelRoutes[], settings: MeshSettings): RouteConfiguration {
  return {
    name: settings.grpcTarget,
    virtual_hosts: [{ ...hostHead(), routes: [...parts.flatMap((part) => part.headerRoutes), ...fallbackRoutes(parts, settings)] }],
  };
}

/** A matcher outcome that runs a list of routes, first match wins. */
type OnMatch = NonNullable<NonNullable<VirtualHost['matcher']>['on_no_match']>;

export function routeListOnMatch(name: string, routes: Route[]): OnMatch {
  return { action: { name, typed_config: typedConfig('routeList', { routes }) } };
}

/** The retry policy of a route's action, if it has one. */
function retryPolicyOf(route: Route): RetryPolicy | undefined {
  return route.route?.retry_policy ?? undefined;
}

/** The retry policy most routes carry (the first one seen wins a tie): it moves up to the virtual host. */
export function mostCommonRetryPolicy(routes: readonly Route[]): RetryPolicy | undefined {
  const route = mostCommon(routes, (r) => {
    const policy = retryPolicyOf(r);
    return policy && JSON.stringify(policy);
  });
  return route && retryPolicyOf(route);
}

function withoutPolicy(route: Route, policy: RetryPolicy): Route {
  const own = retryPolicyOf(route);
  if (!own || JSON.stringify(own) !== JSON.stringify(policy)) return route;
  const { retry_policy: _hoisted, ...action } = route.route ?? {};
  return { ...route, route: action };
}

/**
 * The RouteConfiguration Envoy sidecars receive, as a typed message. Its virtual host looks the model header up in an
 * exact-match map (a hash lookup in Envoy, so its cost does not grow with the number of models) and runs
 * that name's few routes; requests no name selects run the fallback list (unknown model, REST paths,
 * missing header). The most common retry policy sits once on the virtual host, and routes with exactly that
 * policy inherit it instead of repeating it (every model route has a policy, an empty one when retries are
 * off, so none inherits by accident). With no models at all there is nothing to map, and the fallback list
 * is the table. (The snapshot assembles the same bytes from encoded routes; this twin lets tests check
 * them.)
 */
export function sidecarRouteConfiguration(parts: readonly ModelRoutes[], settings: MeshSettings): RouteConfiguration {
  const fallback = fallbackRoutes(parts, settings);
  const named = parts.flatMap((part) => part.byName);
  if (named.length === 0) return { name: SIDECAR_ROUTE_CONFIG, virtual_hosts: [{ ...hostHead(), routes: fallback }] };
  const policy = mostCommonRetryPolicy([...named.flatMap((group) => group.routes), ...fallback]);
  const hoist = (route: Route) => (policy ? withoutPolicy(route, policy) : route);
  const map: Record<string, OnMatch> = {};
  for (const group of named) map[group.name] = routeListOnMatch(group.name, group.routes.map(hoist));
  return {
    name: SIDECAR_ROUTE_CONFIG,
    virtual_hosts: [
      {
        ...hostHead(),
        ...(policy ? { retry_policy: policy } : {}),
        matcher: {
          matcher_tree: { input: modelHeaderInput(settings), exact_match_map: { map } },
          on_no_match: routeListOnMatch('fallback', fallback.map(hoist)),
        },
      },
    ],
  };
}
