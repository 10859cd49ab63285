import { createHash } from 'node:crypto';
import { backendCluster } from '../envoy/cluster.ts';
import { clusterLoadAssignment } from '../envoy/endpoints.ts';
import type { FieldError } from '../protobuf/field-error.ts';
import { modelRoutes, type ModelRoutes } from '../envoy/route-config.ts';
import { TYPE_URLS } from '../envoy/type-urls.ts';
import type { Endpoint, MeshSettings, Model } from '../model/types.ts';
import type { EncodedResource, ResourceCodec } from './codec.ts';
import { clustersNamedBy } from './consistency.ts';
import { digestKey } from './content-cache.ts';
import type { NamedRouteBytes } from './route-bytes.ts';

/** Everything one model contributes to a snapshot, already validated and encoded. */
export interface EncodedModel {
  model: string;
  clusters: EncodedResource[];
  endpoints: EncodedResource[];
  /** The routes as built, built again when asked (explain) rather than kept beside their encoding. */
  readonly routes: ModelRoutes;
  /** The routes as encoded Route messages. */
  routeBytes: { byName: NamedRouteBytes[]; path: Uint8Array[] };
  /** The clusters the routes name, as built (for the consistency check). */
  routedClusters: readonly string[];
  /** Short hash of what serves (resources and routes): a change means the model changed. */
  fingerprint: string;
}

export interface ModelBuildError {
  /** Which generated resource failed, e.g. `cluster infermesh|resnet50|stable` or `route resnet50|version=2`. */
  resource: string;
  errors: FieldError[];
}

export type EncodeModelResult = { ok: true; encoded: EncodedModel } | { ok: false; errors: ModelBuildError[] };

export const ROUTE_TYPE = 'envoy.config.route.v3.Route';

function encodeRoutes(routes: readonly object[], codec: ResourceCodec, failures: ModelBuildError[]): Uint8Array[] {
  const encoded: Uint8Array[] = [];
  for (const route of routes) {
    const result = codec.encodeMessage(ROUTE_TYPE, route);
    if (result.ok) encoded.push(result.bytes);
    else failures.push({ resource: `route ${'name' in route ? String(route.name) : ''}`, errors: result.errors });
  }
  return encoded;
}

function encodeFresh(model: Model, settings: MeshSettings, codec: ResourceCodec): EncodeModelResult {
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
  const routeBytes = {
    byName: routes.byName.map((group) => ({ name: group.name, routes: encodeRoutes(group.routes, codec, errors) })),
    path: encodeRoutes(routes.pathRoutes, codec, errors),
  };
  if (errors.length > 0) return { ok: false, errors };
  const parts = { clusters, endpoints, routeBytes, routedClusters: clustersNamedBy([...routes.headerRoutes, ...routes.pathRoutes]), fingerprint: fingerprint(clusters, endpoints, routes) };
  return { ok: true, encoded: new Encoded(model, settings, parts) };
}

/** An EncodedModel whose routes' JSON is built again from the model when asked, not kept. */
class Encoded implements EncodedModel {
  readonly model: string;
  readonly clusters: EncodedResource[];
  readonly endpoints: EncodedResource[];
  readonly routeBytes: EncodedModel['routeBytes'];
  readonly routedClusters: readonly string[];
  readonly fingerprint: string;
  readonly #source: Model;
  readonly #settings: MeshSettings;

  constructor(source: Model, settings: MeshSettings, parts: Omit<EncodedModel, 'model' | 'routes'>) {
    this.model = source.policy.model;
    this.clusters = parts.clusters;
    this.endpoints = parts.endpoints;
    this.routeBytes = parts.routeBytes;
    this.routedClusters = parts.routedClusters;
    this.fingerprint = parts.fingerprint;
    this.#source = source;
    this.#settings = settings;
  }

  get routes(): ModelRoutes {
    return modelRoutes(this.#source, this.#settings);
  }
}

function fingerprint(clusters: readonly EncodedResource[], endpoints: readonly EncodedResource[], routes: ModelRoutes): string {
  const hash = createHash('sha256');
  for (const resource of [...clusters, ...endpoints]) hash.update(resource.version);
  return hash.update(JSON.stringify(routes)).digest('hex').slice(0, 16);
}

/** What a model's resources depend on: the policy (not where it came from) and its endpoints. */
function modelKey(model: Model, settings: MeshSettings): string {
  const { source: _source, provenance: _provenance, ...policy } = model.policy;
  return JSON.stringify([policy, model.backends, settings]);
}

/** A model's encoding as last built from this policy object, with the settings and endpoint lists it used. */
interface BuiltFrom {
  settings: MeshSettings;
  endpoints: readonly Endpoint[][];
  result: EncodeModelResult;
}

/**
 * Builds, validates and encodes one model's clusters, endpoints and routes; an unchanged model is not
 * rebuilt at all. Any failure rejects the model as a whole, so a half-built model is never pushed.
 * Unchanged is first asked by identity (the same policy object, settings and endpoint lists: no key to
 * build, which at 10,000 models is most of a rebuild), then by content (a source that re-reads everything).
 */
export function encodeModel(model: Model, settings: MeshSettings, codec: ResourceCodec): EncodeModelResult {
  const endpoints = model.backends.map((backend) => backend.endpoints);
  const built = codec.remember<BuiltFrom>(
    model.policy,
    () => ({ settings, endpoints, result: codec.remember(digestKey(`model\n${modelKey(model, settings)}`), () => encodeFresh(model, settings, codec)) }),
    (last) => last.settings === settings && last.endpoints.length === endpoints.length && last.endpoints.every((list, i) => list === endpoints[i]),
  );
  return built.result;
}
