import { modelTableName } from '../../src/envoy/names.ts';
import { VIRTUAL_HOST, missingHeaderRoute, unknownModelRoute, type ModelRoutes } from '../../src/envoy/route-config.ts';
import type { Route, RouteConfiguration, VirtualHost } from '../../src/envoy/messages.ts';
import type { MeshSettings } from '../../src/model/types.ts';

/**
 * The RouteConfigurations as typed messages, built from the builders' per-model routes: the JSON twins of
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

/**
 * A model name's own RouteConfiguration as a typed message: the version routes, the model's REST path routes,
 * then the split, with the retry policy they share on the virtual host instead of on each route (the JSON
 * twin of what model-table.ts assembles from encoded routes).
 */
export function modelTableConfiguration(part: ModelRoutes, settings: MeshSettings, name: string): RouteConfiguration {
  const routes = [...part.tableVersions, ...part.pathRoutes, part.tableSplit];
  const policies = new Set(routes.flatMap((route) => (route.route?.retry_policy ? [JSON.stringify(route.route.retry_policy)] : [])));
  const shared = policies.size === 1 ? routes.find((route) => route.route?.retry_policy)?.route?.retry_policy : undefined;
  const hoisted = shared ? routes.map((route) => (route.route ? { ...route, route: withoutRetryPolicy(route.route) } : route)) : routes;
  return {
    name: modelTableName(settings.grpcTarget, name),
    virtual_hosts: [{ ...hostHead(), routes: hoisted, ...(shared ? { retry_policy: shared } : {}) }],
  };
}

function withoutRetryPolicy(action: NonNullable<Route['route']>): NonNullable<Route['route']> {
  const { retry_policy: _policy, ...rest } = action;
  return rest;
}
