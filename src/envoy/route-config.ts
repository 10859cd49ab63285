import type { Backend, MeshSettings, Model } from '../model/types.ts';
import { GRPC_INVALID_ARGUMENT, GRPC_NOT_FOUND, abortRoute } from './error-routes.ts';
import { restPathRoutes } from './rest-routes.ts';
import { singleBackendAction, splitAction } from './route-action.ts';

type Json = Record<string, unknown>;

/**
 * Header matchers use exact_match / present_match rather than string_match: gRPC 1.51 NACKs a whole
 * RouteConfiguration containing string_match, and Envoy still accepts the older fields.
 */
function exactHeader(name: string, value: string): Json {
  return { name, exact_match: value };
}

function presentHeader(name: string): Json {
  return { name, present_match: true };
}

function headerMatch(headers: Json[]): Json {
  return { prefix: '/', headers };
}

function versionedBackends(model: Model): (Backend & { version: string })[] {
  return model.backends.filter((backend): backend is Backend & { version: string } => backend.version !== undefined);
}

/** Header-selected routes for one model: version pins, then unknown version, then the weighted split. */
export function modelHeaderRoutes(model: Model, settings: MeshSettings): Json[] {
  const routes: Json[] = [];
  for (const name of [model.policy.model, ...model.policy.aliases]) {
    const modelHeader = exactHeader(settings.modelHeader, name);
    for (const backend of versionedBackends(model)) {
      routes.push({
        name: `${name}|version=${backend.version}`,
        match: headerMatch([modelHeader, exactHeader(settings.versionHeader, backend.version)]),
        route: singleBackendAction(model, backend),
      });
    }
    routes.push(
      abortRoute(
        `${name}|unknown-version`,
        headerMatch([modelHeader, presentHeader(settings.versionHeader)]),
        GRPC_NOT_FOUND,
      ),
    );
    routes.push({ name, match: headerMatch([modelHeader]), route: splitAction(model) });
  }
  return routes;
}

/** Routes that close the table: any other model header is unknown; no header and no known path is an error. */
export function unknownModelRoute(settings: MeshSettings): Json {
  return abortRoute('unknown-model', headerMatch([presentHeader(settings.modelHeader)]), GRPC_NOT_FOUND);
}

export function missingHeaderRoute(): Json {
  return abortRoute('missing-model-header', { prefix: '/' }, GRPC_INVALID_ARGUMENT);
}

/** The single virtual host of the shared RouteConfiguration. */
export const VIRTUAL_HOST = { name: 'models', domains: ['*'] } as const;

/** Per-model pieces, built (and validated) separately so one bad model cannot spoil the others. */
export interface ModelRoutes {
  headerRoutes: Json[];
  pathRoutes: Json[];
}

export function modelRoutes(model: Model, settings: MeshSettings): ModelRoutes {
  return { headerRoutes: modelHeaderRoutes(model, settings), pathRoutes: restPathRoutes(model) };
}

/**
 * The one RouteConfiguration shared by the sidecar listener and the proxyless gRPC API listener, as JSON:
 * per-model header routes, the unknown-model route, per-model REST path routes, the missing-header route.
 * (The snapshot assembles the same order from encoded routes; this form is for tests and documentation.)
 */
export function routeConfiguration(parts: ModelRoutes[], settings: MeshSettings): Json {
  return {
    name: settings.grpcTarget,
    virtual_hosts: [
      {
        ...VIRTUAL_HOST,
        routes: [...parts.flatMap((part) => part.headerRoutes), unknownModelRoute(settings), ...parts.flatMap((part) => part.pathRoutes), missingHeaderRoute()],
      },
    ],
  };
}
