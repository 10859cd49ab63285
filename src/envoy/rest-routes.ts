import type { Model } from '../model/types.ts';
import { httpAbortRoute } from './error-routes.ts';
import type { Route, RouteAction, RouteMatch } from './messages.ts';
import { splitAction } from './route-action.ts';
import { versionRoute, versionedBackends } from './version-route.ts';

/** REST API prefixes by server kind: TF Serving speaks /v1, Triton (KServe v2) /v2; generic servers may speak either. */
const REST_PREFIXES: Record<Model['policy']['server'], string[]> = {
  tfserving: ['/v1/models/'],
  triton: ['/v2/models/'],
  generic: ['/v1/models/', '/v2/models/'],
};

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A `/versions/V` segment of any V: what the known-version routes before it did not take. */
const ANY_VERSION = '[^/:]+';

/**
 * Matches `/v1/models/M`, `/v1/models/M:predict`, `/v2/models/M/infer`, but not `/v1/models/M2`; with a
 * version pattern, only `/v1/models/M/versions/V...`.
 */
function pathRegex(prefix: string, name: string, versionPattern?: string): RouteMatch {
  const versionPart = versionPattern === undefined ? '' : `/versions/${versionPattern}`;
  return { safe_regex: { regex: `^${escapeRegex(prefix + name)}${versionPart}([/:].*)?$` } };
}

const HTTP_NOT_FOUND = 404;

/**
 * An alias in a REST path is infermesh's name, not the server's: the path is rewritten to the model's own
 * name, as a caller sending the alias in the model header still names the real model in the body. (Only
 * Envoy takes REST path routes; no gRPC method has such a path.)
 */
function aliasRewrite(prefix: string, alias: string, model: string): RouteAction {
  return { regex_rewrite: { pattern: { regex: `^${escapeRegex(prefix + alias)}` }, substitution: prefix + model } };
}

/**
 * Path-selected routes for callers that send no model header (TF Serving and Triton REST clients): a
 * `/versions/V` in the path pins V, or answers 404 when no backend has V (as x-model-version does), and
 * any other path of the model takes the weighted split.
 */
export function restPathRoutes(model: Model): Route[] {
  const routes: Route[] = [];
  const own = model.policy.model;
  for (const prefix of REST_PREFIXES[model.policy.server]) {
    for (const name of [own, ...model.policy.aliases]) {
      const rewrite = name === own ? {} : aliasRewrite(prefix, name, own);
      for (const backend of versionedBackends(model)) {
        const route = versionRoute(model, backend, `${prefix}${name}|version=${backend.version}`, pathRegex(prefix, name, escapeRegex(backend.version)));
        routes.push({ ...route, route: { ...route.route, ...rewrite } });
      }
      routes.push(httpAbortRoute(`${prefix}${name}|unknown-version`, pathRegex(prefix, name, ANY_VERSION), HTTP_NOT_FOUND));
      routes.push({ name: `${prefix}${name}`, match: pathRegex(prefix, name), route: { ...splitAction(model), ...rewrite } });
    }
  }
  return routes;
}
