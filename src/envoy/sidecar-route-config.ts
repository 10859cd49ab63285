import type { MeshSettings } from '../model/types.ts';
import { SIDECAR_ROUTE_CONFIG } from './names.ts';
import { VIRTUAL_HOST, fallbackRoutes, type ModelRoutes } from './route-config.ts';
import { EXTENSION_TYPES } from './type-urls.ts';
import { mostCommon } from '../util/most-common.ts';

type Json = Record<string, unknown>;

/** The matcher input: the value of the model header (absent header -> no value -> on_no_match). */
export function modelHeaderInput(settings: MeshSettings): Json {
  return {
    name: 'model-header',
    typed_config: { '@type': EXTENSION_TYPES.requestHeaderMatchInput, header_name: settings.modelHeader },
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
 * is the table. (The snapshot assembles the same bytes from encoded routes; this form is for tests and
 * documentation.)
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
