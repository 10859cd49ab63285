import { backendCluster } from '../envoy/cluster.ts';
import { clusterLoadAssignment } from '../envoy/endpoints.ts';
import { failoverZones, zoneFailoverAssignment } from '../envoy/zone-priorities.ts';
import type { FieldError } from '../protobuf/field-error.ts';
import { modelNames, modelRoutes, type ModelRoutes } from '../envoy/route-config.ts';
import { modelTableName } from '../envoy/names.ts';
import { modelScope } from '../envoy/scoped-routes.ts';
import { hostExtrasOf, modelTableBytes, tableRoutes } from './model-table.ts';
import { acceptBodyRouting } from '../envoy/model-from-body.ts';
import { rateLimitOverride } from '../envoy/rate-limit.ts';
import { coldStartOverride } from '../envoy/cold-start.ts';
import { VIRTUAL_HOST } from '../envoy/route-config.ts';
import { TYPE_URLS } from '../envoy/type-urls.ts';
import type { Backend, Endpoint, MeshSettings, Model } from '../model/types.ts';
import { hasHealthyEndpoint } from '../envoy/route-action.ts';
import type { EncodedResource, EncodeResult, ResourceCodec } from './codec.ts';
import { clustersNamedBy } from './consistency.ts';
import { contentVersion } from './encoded-resource.ts';
import { hexDigest } from '../util/digest.ts';
import type { NamedRouteBytes } from './route-bytes.ts';

/** Everything one model contributes to a snapshot, already validated and encoded. */
export interface EncodedModel {
  model: string;
  clusters: EncodedResource[];
  endpoints: EncodedResource[];
  /**
   * With zone failover: per caller zone, the ClusterLoadAssignments that replace `endpoints` of the same name
   * for clients in that zone (zone-priorities.ts). Empty without zone failover.
   */
  zoneEndpoints: readonly ZoneEndpoints[];
  /** The routes as built, built again when asked (explain) rather than kept beside their encoding. */
  readonly routes: ModelRoutes;
  /** The routes as encoded Route messages. */
  routeBytes: { byName: NamedRouteBytes[]; path: Uint8Array[] };
  /** One RouteConfiguration per model name (own and aliases), each the model's own table. */
  routeConfigs: EncodedResource[];
  /** One ScopedRouteConfiguration per model name, pointing a sidecar at that name's table. */
  scopes: EncodedResource[];
  /** The clusters the routes name, as built (for the consistency check). */
  routedClusters: readonly string[];
  /** Short hash of what serves (resources and routes): a change means the model changed. */
  fingerprint: string;
  /** The policy sets coldStart: sidecars need the hold filter in their listener. */
  coldStart: boolean;
  /** Its policy enables modelFromBody: the sidecar listener then carries the body filters. */
  modelFromBody: boolean;
}

/** A ClusterLoadAssignment that callers in `zone` receive instead of the flat one of the same name. */
export interface ZoneEndpoints {
  zone: string;
  resource: EncodedResource;
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

const VIRTUAL_HOST_TYPE = 'envoy.config.route.v3.VirtualHost';

/**
 * What the model adds to the virtual host of each of its tables: its per-filter configs (one token bucket
 * per table and sidecar, shared by every route in it; the cold-start hold while it has no ready endpoint; the
 * body-routing guard switched off) and the headers removed before a request goes upstream, or undefined when
 * it adds nothing. The hold depends on endpoint health, which is part of what decides a rebuild (healthy).
 */
function encodeHostFilters(model: Model, codec: ResourceCodec, failures: ModelBuildError[]): Uint8Array | undefined {
  const limit = rateLimitOverride(model);
  const coldStart = coldStartOverride(model);
  const body = acceptBodyRouting(model.policy.modelFromBody === true);
  if (!limit && !coldStart && !body) return undefined;
  const typedPerFilterConfig = { ...coldStart, ...limit, ...body?.typed_per_filter_config };
  const result = codec.encodeMessage(VIRTUAL_HOST_TYPE, { ...VIRTUAL_HOST, ...body, typed_per_filter_config: typedPerFilterConfig });
  if (result.ok) return hostExtrasOf(result.bytes);
  failures.push({ resource: `virtual host filters of ${model.policy.model}`, errors: result.errors });
  return undefined;
}

/** A model's clusters and routes: what its policy, the settings and which backends can take traffic decide. */
interface ServingPart {
  settings: MeshSettings;
  /** Which backends had a healthy endpoint (the split leaves out the others), one character each. */
  healthy: string;
  clusters: EncodedResource[];
  routeBytes: EncodedModel['routeBytes'];
  routeConfigs: EncodedResource[];
  scopes: EncodedResource[];
  routedClusters: readonly string[];
  /** Hash of the encoded routes. */
  routesVersion: string;
}

type PartResult<T> = { ok: true; part: T } | { ok: false; errors: ModelBuildError[] };

const healthyFlags = (model: Model) => model.backends.map((backend) => (hasHealthyEndpoint(backend) ? '1' : '0')).join('');

function encodeServing(model: Model, settings: MeshSettings, healthy: string, codec: ResourceCodec): PartResult<ServingPart> {
  const errors: ModelBuildError[] = [];
  const clusters: EncodedResource[] = [];
  for (const backend of model.backends) {
    const cluster = codec.encode(TYPE_URLS.cluster, backend.clusterName, backendCluster(model, backend));
    if (cluster.ok) clusters.push(cluster.resource);
    else errors.push({ resource: `cluster ${backend.clusterName}`, errors: cluster.errors });
  }
  const routes = modelRoutes(model, settings);
  const routeBytes = {
    byName: routes.byName.map((group) => ({ name: group.name, routes: encodeRoutes(group.routes, codec, errors) })),
    path: encodeRoutes(routes.pathRoutes, codec, errors),
  };
  const ownRoutes = [...encodeRoutes(routes.tableVersions, codec, errors), ...routeBytes.path, ...encodeRoutes([routes.tableSplit], codec, errors)];
  const scopes: EncodedResource[] = [];
  const routeConfigs: EncodedResource[] = [];
  const hostFilters = encodeHostFilters(model, codec, errors);
  const table = tableRoutes(ownRoutes, hostFilters);
  for (const name of modelNames(model)) {
    const tableName = modelTableName(settings.grpcTarget, name);
    routeConfigs.push(codec.fromBytes(TYPE_URLS.route, tableName, modelTableBytes(tableName, table)));
    const scope = codec.encode(TYPE_URLS.scopedRoute, tableName, modelScope(settings, name));
    if (scope.ok) scopes.push(scope.resource);
    else errors.push({ resource: `scope ${tableName}`, errors: scope.errors });
  }
  if (errors.length > 0) return { ok: false, errors };
  const names = new TextEncoder();
  const allRoutes = [...routeBytes.byName.flatMap((group) => [names.encode(group.name), ...group.routes]), ...ownRoutes, ...(hostFilters ? [hostFilters] : [])];
  const routesVersion = contentVersion(Buffer.concat(allRoutes));
  const routedClusters = clustersNamedBy([...routes.headerRoutes, ...routes.pathRoutes]);
  return { ok: true, part: { settings, healthy, clusters, routeBytes, routeConfigs, scopes, routedClusters, routesVersion } };
}

/** One backend's ClusterLoadAssignments (flat, and per caller zone with zone failover), built for the endpoint list they were built from. */
interface EndpointsPart {
  endpoints: readonly Endpoint[];
  zoneFailover: boolean;
  result: EncodeResult;
  zones: ZoneEndpoints[];
  zoneErrors: ModelBuildError[];
}

function encodeZones(backend: Backend, codec: ResourceCodec): Pick<EndpointsPart, 'zones' | 'zoneErrors'> {
  const zones: ZoneEndpoints[] = [];
  const zoneErrors: ModelBuildError[] = [];
  for (const zone of failoverZones(backend.endpoints)) {
    const encoded = codec.encode(TYPE_URLS.endpoint, backend.clusterName, zoneFailoverAssignment(backend.clusterName, backend.endpoints, zone));
    if (encoded.ok) zones.push({ zone, resource: encoded.resource });
    else zoneErrors.push({ resource: `endpoints ${backend.clusterName} for zone ${zone}`, errors: encoded.errors });
  }
  return { zones, zoneErrors };
}

function encodeEndpoints(backend: Backend, zoneFailover: boolean, codec: ResourceCodec): EndpointsPart {
  return codec.remember<EndpointsPart>(
    `endpoints\n${backend.clusterName}`,
    () => ({
      endpoints: backend.endpoints,
      zoneFailover,
      result: codec.encode(TYPE_URLS.endpoint, backend.clusterName, clusterLoadAssignment(backend.clusterName, backend.endpoints)),
      ...(zoneFailover ? encodeZones(backend, codec) : { zones: [], zoneErrors: [] }),
    }),
    (last) => last.endpoints === backend.endpoints && last.zoneFailover === zoneFailover,
  );
}

/** An EncodedModel whose routes' JSON is built again from the model when asked, not kept. */
class Encoded implements EncodedModel {
  readonly model: string;
  readonly clusters: EncodedResource[];
  readonly endpoints: EncodedResource[];
  readonly zoneEndpoints: readonly ZoneEndpoints[];
  readonly routeBytes: EncodedModel['routeBytes'];
  readonly routeConfigs: EncodedResource[];
  readonly scopes: EncodedResource[];
  readonly routedClusters: readonly string[];
  readonly fingerprint: string;
  readonly coldStart: boolean;
  readonly modelFromBody: boolean;
  readonly #source: Model;
  readonly #settings: MeshSettings;

  constructor(source: Model, serving: ServingPart, endpoints: EncodedResource[], zoneEndpoints: readonly ZoneEndpoints[]) {
    this.model = source.policy.model;
    this.clusters = serving.clusters;
    this.endpoints = endpoints;
    this.zoneEndpoints = zoneEndpoints;
    this.routeBytes = serving.routeBytes;
    this.routeConfigs = serving.routeConfigs;
    this.scopes = serving.scopes;
    this.routedClusters = serving.routedClusters;
    const versions = [...serving.clusters, ...endpoints].map((resource) => resource.version);
    // Turning zone failover on or off changes only the per-zone variants: that too is a change of the model.
    for (const { zone, resource } of zoneEndpoints) versions.push(`${zone}\0${resource.version}`);
    this.fingerprint = hexDigest([serving.routesVersion, ...versions].join('\n')).slice(0, 16);
    this.coldStart = source.policy.coldStart !== undefined;
    this.modelFromBody = source.policy.modelFromBody === true;
    this.#source = source;
    this.#settings = serving.settings;
  }

  get routes(): ModelRoutes {
    return modelRoutes(this.#source, this.#settings);
  }
}

/** A model's encoding as last built from this policy object, with the settings and endpoint lists it used. */
interface BuiltFrom {
  settings: MeshSettings;
  endpoints: readonly Endpoint[][];
  serving: PartResult<ServingPart>;
  result: EncodeModelResult;
}

function build(model: Model, settings: MeshSettings, endpointLists: Endpoint[][], codec: ResourceCodec, stale: BuiltFrom | undefined): BuiltFrom {
  const healthy = healthyFlags(model);
  const reusable = stale?.serving.ok === true && stale.serving.part.settings === settings && stale.serving.part.healthy === healthy;
  const serving = reusable && stale ? stale.serving : encodeServing(model, settings, healthy, codec);
  const errors = serving.ok ? [] : [...serving.errors];
  const endpoints: EncodedResource[] = [];
  const zoneEndpoints: ZoneEndpoints[] = [];
  for (const backend of model.backends) {
    const part = encodeEndpoints(backend, model.policy.zoneFailover !== undefined, codec);
    if (part.result.ok) endpoints.push(part.result.resource);
    else errors.push({ resource: `endpoints ${backend.clusterName}`, errors: part.result.errors });
    zoneEndpoints.push(...part.zones);
    errors.push(...part.zoneErrors);
  }
  const result: EncodeModelResult = serving.ok && errors.length === 0 ? { ok: true, encoded: new Encoded(model, serving.part, endpoints, zoneEndpoints) } : { ok: false, errors };
  return { settings, endpoints: endpointLists, serving, result };
}

/**
 * Builds, validates and encodes one model's clusters, endpoints and routes; an unchanged model is not
 * rebuilt at all. Any failure rejects the model as a whole, so a half-built model is never pushed.
 * Unchanged is asked by identity: the same policy object (the reconciler hands back the same one for an
 * unchanged ConfigMap, even one read again), settings and endpoint lists. When only endpoints changed, the
 * clusters and routes are kept unless a backend gained or lost its last healthy endpoint (the split
 * changes), and only the changed backends' ClusterLoadAssignments are encoded again.
 */
export function encodeModel(model: Model, settings: MeshSettings, codec: ResourceCodec): EncodeModelResult {
  const endpointLists = model.backends.map((backend) => backend.endpoints);
  const built = codec.remember<BuiltFrom>(
    model.policy,
    (stale) => build(model, settings, endpointLists, codec, stale),
    (last) => last.settings === settings && last.endpoints.length === endpointLists.length && last.endpoints.every((list, i) => list === endpointLists[i]),
  );
  return built.result;
}
