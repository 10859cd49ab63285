import { backendCluster } from '../envoy/cluster.ts';
import { clusterLoadAssignment } from '../envoy/endpoints.ts';
import type { FieldError } from '../envoy/field-error.ts';
import { modelRoutes, type ModelRoutes } from '../envoy/route-config.ts';
import { TYPE_URLS } from '../envoy/type-urls.ts';
import type { MeshSettings, Model } from '../model/types.ts';
import type { EncodedResource, ResourceCodec } from './codec.ts';

/** Everything one model contributes to a snapshot, already validated. */
export interface EncodedModel {
  model: string;
  clusters: EncodedResource[];
  endpoints: EncodedResource[];
  routes: ModelRoutes;
}

export interface ModelBuildError {
  /** Which generated resource failed, e.g. `cluster infermesh|resnet50|stable` or `route resnet50|version=2`. */
  resource: string;
  errors: FieldError[];
}

export type EncodeModelResult = { ok: true; encoded: EncodedModel } | { ok: false; errors: ModelBuildError[] };

const ROUTE_TYPE = 'envoy.config.route.v3.Route';

function checkRoutes(routes: ModelRoutes, codec: ResourceCodec): ModelBuildError[] {
  const failures: ModelBuildError[] = [];
  for (const route of [...routes.headerRoutes, ...routes.pathRoutes]) {
    const errors = codec.check(ROUTE_TYPE, route);
    if (errors.length > 0) failures.push({ resource: `route ${String(route['name'])}`, errors });
  }
  return failures;
}

/**
 * Builds, validates and encodes one model's clusters, endpoints and routes. Any failure rejects the model
 * as a whole, so a half-built model is never pushed.
 */
export function encodeModel(model: Model, settings: MeshSettings, codec: ResourceCodec): EncodeModelResult {
  const errors: ModelBuildError[] = [];
  const clusters: EncodedResource[] = [];
  const endpoints: EncodedResource[] = [];
  for (const backend of model.backends) {
    const cluster = codec.encode(TYPE_URLS.cluster, backend.clusterName, backendCluster(model, backend));
    if (cluster.ok) clusters.push(cluster.resource);
    else errors.push({ resource: `cluster ${backend.clusterName}`, errors: cluster.errors });
    const assignment = codec.encode(TYPE_URLS.endpoint, backend.clusterName, clusterLoadAssignment(backend.clusterName, backend.endpoints));
    if (assignment.ok) endpoints.push(assignment.resource);
    else errors.push({ resource: `endpoints ${backend.clusterName}`, errors: assignment.errors });
  }
  const routes = modelRoutes(model, settings);
  errors.push(...checkRoutes(routes, codec));
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, encoded: { model: model.policy.model, clusters, endpoints, routes } };
}
