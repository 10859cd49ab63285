import { SIDECAR_ROUTE_CONFIG } from '../../src/envoy/names.ts';
import { VIRTUAL_HOST, missingHeaderRoute, unknownModelRoute, type ModelRoutes } from '../../src/envoy/route-config.ts';
import { modelHeaderInput } from '../../src/envoy/sidecar-route-config.ts';
import { EXTENSION_TYPES } from '../../src/envoy/type-urls.ts';
import type { MeshSettings } from '../../src/model/types.ts';
import { mostCommon } from '../../src/util/most-common.ts';

/**
 * The two RouteConfigurations as proto3 JSON, built from the builders' per-model routes: the JSON twins of
 * what src/snapshot assembles from encoded bytes, kept for tests that compare the two or walk the tables.
 */

type Json = Record<string, unknown>;

/** Routes for requests no model name selects: unknown model, then REST paths, then the missing-header error. */
export function fallbackRoutes(parts: readonly ModelRoutes[], settings: MeshSettings): Json[] {
  return [unknownModelRoute(settings), ...parts.flatMap((part) => part.pathRoutes), missingHeaderRoute()];
}

/**
 * The RouteConfiguration of the proxyless gRPC API listener, as JSON: a list, because gRPC clients do not
 * support matcher trees. Per-model header routes, then the fallback routes. (The snapshot assembles the
 * same bytes from encoded routes; this twin lets tests check them.)
 */
export function routeConfiguration(parts: readonly ModelRoutes[], settings: MeshSettings): Json {
  return {
    name: settings.grpcTarget,
    virtual_hosts: [{ ...VIRTUAL_HOST, routes: [...parts.flatMap((part) => part.headerRoutes), ...fallbackRoutes(parts, settings)] }],
  };
}

/** A matcher outcome that runs a list of routes, first match wins. */
export function routeListOnMatch(name: string, routes: readonly Json[]): Json {
  return { action: { name, typed_config: { '@type': EXTENSION_TYPES.routeList, routes } } };
}

/** The retry policy of a route's action, if it has one. */
function retryPolicyOf(route: Json): Json | undefined {
  return (route['route'] as Json | undefined)?.['retry_policy'] as Json | undefined;
}

/** The retry policy most routes carry (the first one seen wins a tie): it moves up to the virtual host. */
export function mostCommonRetryPolicy(routes: readonly Json[]): Json | undefined {
  const route = mostCommon(routes, (r) => {
    const policy = retryPolicyOf(r);
    return policy && JSON.stringify(policy);
  });
  return route && retryPolicyOf(route);
}

function withoutPolicy(route: Json, policy: Json): Json {
  const own = retryPolicyOf(route);
  if (!own || JSON.stringify(own) !== JSON.stringify(policy)) return route;
  const { retry_policy: _hoisted, ...action } = route['route'] as Json;
  return { ...route, route: action };
}

/**
 * The RouteConfiguration Envoy sidecars receive, as JSON. Its virtual host looks the model header up in an
 * exact-match map (a hash lookup in Envoy, so its cost does not grow with the number of models) and runs
 * that name's few routes; requests no name selects run the fallback list (unknown model, REST paths,
 * missing header). The most common retry policy sits once on the virtual host, and routes with exactly that
 * policy inherit it instead of repeating it (every model route has a policy, an empty one when retries are
 * off, so none inherits by accident). With no models at all there is nothing to map, and the fallback list
 * is the table. (The snapshot assembles the same bytes from encoded routes; this twin lets tests check
 * them.)
 */
export function sidecarRouteConfiguration(parts: readonly ModelRoutes[], settings: MeshSettings): Json {
  const fallback = fallbackRoutes(parts, settings);
  const named = parts.flatMap((part) => part.byName);
  if (named.length === 0) return { name: SIDECAR_ROUTE_CONFIG, virtual_hosts: [{ ...VIRTUAL_HOST, routes: fallback }] };
  const policy = mostCommonRetryPolicy([...named.flatMap((group) => group.routes), ...fallback]);
  const hoist = (route: Json) => (policy ? withoutPolicy(route, policy) : route);
  const map: Record<string, Json> = {};
  for (const group of named) map[group.name] = routeListOnMatch(group.name, group.routes.map(hoist));
  return {
    name: SIDECAR_ROUTE_CONFIG,
    virtual_hosts: [
      {
        ...VIRTUAL_HOST,
        ...(policy ? { retry_policy: policy } : {}),
        matcher: {
          matcher_tree: { input: modelHeaderInput(settings), exact_match_map: { map } },
          on_no_match: routeListOnMatch('fallback', fallback.map(hoist)),
        },
      },
    ],
  };
}
