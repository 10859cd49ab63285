import type { Model } from '../model/types.ts';
import { singleBackendAction, splitAction } from './route-action.ts';

type Json = Record<string, unknown>;

/** REST API prefixes by server kind: TF Serving speaks /v1, Triton (KServe v2) /v2; generic servers may speak either. */
const REST_PREFIXES: Record<Model['policy']['server'], string[]> = {
  tfserving: ['/v1/models/'],
  triton: ['/v2/models/'],
  generic: ['/v1/models/', '/v2/models/'],
};

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Matches `/v1/models/M`, `/v1/models/M:predict`, `/v2/models/M/infer`, but not `/v1/models/M2`. */
function pathRegex(prefix: string, name: string, version?: string): Json {
  const versionPart = version === undefined ? '' : `/versions/${escapeRegex(version)}`;
  return { safe_regex: { regex: `^${escapeRegex(prefix + name)}${versionPart}([/:].*)?$` } };
}

/** Path-selected routes for callers that send no model header (TF Serving and Triton REST clients). */
export function restPathRoutes(model: Model): Json[] {
  const routes: Json[] = [];
  for (const prefix of REST_PREFIXES[model.policy.server]) {
    for (const name of [model.policy.model, ...model.policy.aliases]) {
      for (const backend of model.backends) {
        if (backend.version === undefined) continue;
        routes.push({
          name: `${prefix}${name}|version=${backend.version}`,
          match: pathRegex(prefix, name, backend.version),
          route: singleBackendAction(model, backend),
        });
      }
      routes.push({ name: `${prefix}${name}`, match: pathRegex(prefix, name), route: splitAction(model) });
    }
  }
  return routes;
}
