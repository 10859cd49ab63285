import type { MeshSettings } from '../model/types.ts';
import { SIDECAR_ROUTE_CONFIG } from './names.ts';
import { VIRTUAL_HOST, fallbackRoutes, type ModelRoutes } from './route-config.ts';
import { EXTENSION_TYPES } from './type-urls.ts';

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

/**
 * The RouteConfiguration Envoy sidecars receive, as JSON. Its virtual host looks the model header up in an
 * exact-match map (a hash lookup in Envoy, so its cost does not grow with the number of models) and runs
 * that name's few routes; requests no name selects run the fallback list (unknown model, REST paths,
 * missing header). With no models at all there is nothing to map, and the fallback list is the table.
 * (The snapshot assembles the same bytes from encoded routes; this form is for tests and documentation.)
 */
export function sidecarRouteConfiguration(parts: readonly ModelRoutes[], settings: MeshSettings): Json {
  const fallback = fallbackRoutes(parts, settings);
  const named = parts.flatMap((part) => part.byName);
  if (named.length === 0) return { name: SIDECAR_ROUTE_CONFIG, virtual_hosts: [{ ...VIRTUAL_HOST, routes: fallback }] };
  const map: Record<string, Json> = {};
  for (const group of named) map[group.name] = routeListOnMatch(group.name, group.routes);
  return {
    name: SIDECAR_ROUTE_CONFIG,
    virtual_hosts: [
      {
        ...VIRTUAL_HOST,
        matcher: {
          matcher_tree: { input: modelHeaderInput(settings), exact_match_map: { map } },
          on_no_match: routeListOnMatch('fallback', fallback),
        },
      },
    ],
  };
}
