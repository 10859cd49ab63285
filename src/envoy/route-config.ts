import type { MeshSettings, Model } from '../model/types.ts';
import { GRPC_INVALID_ARGUMENT, GRPC_NOT_FOUND, abortRoute } from './error-routes.ts';
import type { HeaderMatcher, Route, RouteMatch } from './messages.ts';
import { restPathRoutes } from './rest-routes.ts';
import { splitAction } from './route-action.ts';
import { versionRoute, versionedBackends } from './version-route.ts';

/**
 * Header matchers use exact_match / present_match rather than string_match: gRPC 1.51 NACKs a whole
 * RouteConfiguration containing string_match, and Envoy still accepts the older fields.
 */
function exactHeader(name: string, value: string): HeaderMatcher {
  return { name, exact_match: value };
}

function presentHeader(name: string): HeaderMatcher {
  return { name, present_match: true };
}

function headerMatch(headers: HeaderMatcher[]): RouteMatch {
  return { prefix: '/', headers };
}

/**
 * Header-selected routes for one name of a model (its own name or an alias): version pins, then unknown
 * version, then the weighted split. Each route also matches the model header, so the same encoded routes
 * serve the gRPC table (a list) and the sidecar table (a map keyed by that header).
 */
export function nameHeaderRoutes(model: Model, name: string, settings: MeshSettings): Route[] {
  const modelHeader = exactHeader(settings.modelHeader, name);
  const routes: Route[] = versionedBackends(model).map((backend) =>
    versionRoute(model, backend, `${name}|version=${backend.version}`, headerMatch([modelHeader, exactHeader(settings.versionHeader, backend.version)])));
  routes.push(abortRoute(`${name}|unknown-version`, headerMatch([modelHeader, presentHeader(settings.versionHeader)]), GRPC_NOT_FOUND));
  routes.push({ name, match: headerMatch([modelHeader]), route: splitAction(model) });
  return routes;
}

/** Every name a model answers to, its own first. */
export function modelNames(model: Model): string[] {
  return [model.policy.model, ...model.policy.aliases];
}

/** Header-selected routes for one model, all its names in order. */
export function modelHeaderRoutes(model: Model, settings: MeshSettings): Route[] {
  return modelNames(model).flatMap((name) => nameHeaderRoutes(model, name, settings));
}

/**
 * The version routes of a model's own table (one RouteConfiguration per model name, reached by scope or by
 * a per-model gRPC target): the model is already chosen, so they match the version header alone. The
 * model's path routes follow them, then the split (tableSplitRoute).
 */
export function tableVersionRoutes(model: Model, settings: MeshSettings): Route[] {
  const own = model.policy.model;
  const routes: Route[] = versionedBackends(model).map((backend) =>
    versionRoute(model, backend, `${own}|version=${backend.version}`, headerMatch([exactHeader(settings.versionHeader, backend.version)])));
  routes.push(abortRoute(`${own}|unknown-version`, headerMatch([presentHeader(settings.versionHeader)]), GRPC_NOT_FOUND));
  return routes;
}

/** The last route of a model's own table: anything else takes the weighted split. */
export function tableSplitRoute(model: Model): Route {
  return { name: model.policy.model, match: { prefix: '/' }, route: splitAction(model) };
}

/** The only route of the table a per-model target gets for a name no model answers to. */
export function unknownModelTableRoute(): Route {
  return abortRoute('unknown-model', { prefix: '/' }, GRPC_NOT_FOUND);
}

/** Routes that close the table: any other model header is unknown; no header and no known path is an error. */
export function unknownModelRoute(settings: MeshSettings): Route {
  return abortRoute('unknown-model', headerMatch([presentHeader(settings.modelHeader)]), GRPC_NOT_FOUND);
}

export function missingHeaderRoute(): Route {
  return abortRoute('missing-model-header', { prefix: '/' }, GRPC_INVALID_ARGUMENT);
}

/** The single virtual host of the shared RouteConfiguration. */
export const VIRTUAL_HOST = { name: 'models', domains: ['*'] } as const;

/** Header routes selected by one model name (or alias). */
export interface NamedRoutes {
  name: string;
  routes: Route[];
}

/** Per-model pieces, built (and validated) separately so one bad model cannot spoil the others. */
export interface ModelRoutes {
  headerRoutes: Route[];
  byName: NamedRoutes[];
  pathRoutes: Route[];
  /** The model's own table: these, its path routes, then `tableSplit`. */
  tableVersions: Route[];
  tableSplit: Route;
}

export function modelRoutes(model: Model, settings: MeshSettings): ModelRoutes {
  const byName = modelNames(model).map((name) => ({ name, routes: nameHeaderRoutes(model, name, settings) }));
  return {
    headerRoutes: byName.flatMap((group) => group.routes),
    byName,
    pathRoutes: restPathRoutes(model),
    tableVersions: tableVersionRoutes(model, settings),
    tableSplit: tableSplitRoute(model),
  };
}
