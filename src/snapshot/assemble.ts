import { blackholeCluster } from '../envoy/cluster.ts';
import { clusterLoadAssignment } from '../envoy/endpoints.ts';
import { apiListener, sidecarListener } from '../envoy/listener.ts';
import { BLACKHOLE_CLUSTER, SIDECAR_LISTENER } from '../envoy/names.ts';
import { VIRTUAL_HOST, missingHeaderRoute, unknownModelRoute } from '../envoy/route-config.ts';
import { TYPE_URLS, type ResourceKind } from '../envoy/type-urls.ts';
import type { MeshSettings } from '../model/types.ts';
import type { EncodedResource, ResourceCodec } from './codec.ts';
import { checkConsistency, routedClusters } from './consistency.ts';
import { ROUTE_TYPE, type EncodedModel } from './encode-model.ts';
import { routeConfigurationBytes } from './route-bytes.ts';
import { Snapshot } from './snapshot.ts';

export type AssembleResult = { ok: true; snapshot: Snapshot } | { ok: false; problems: string[] };

function invalid(what: string, errors: { path: string; message: string }[]): Error {
  return new Error(`infermesh generated an invalid ${what}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
}

function encodeOrThrow(codec: ResourceCodec, typeUrl: string, name: string, json: unknown): EncodedResource {
  const result = codec.encode(typeUrl, name, json);
  if (!result.ok) throw invalid(`${name} (${typeUrl})`, result.errors);
  return result.resource;
}

function routeOrThrow(codec: ResourceCodec, json: Record<string, unknown>): Uint8Array {
  const result = codec.encodeMessage(ROUTE_TYPE, json);
  if (!result.ok) throw invalid(`route ${String(json['name'])}`, result.errors);
  return result.bytes;
}

/** The shared RouteConfiguration: every model's header routes, unknown model, every model's path routes, missing header. */
function sharedRoutes(models: readonly EncodedModel[], settings: MeshSettings, codec: ResourceCodec): EncodedResource {
  const routes = [
    ...models.flatMap((model) => model.routeBytes.header),
    routeOrThrow(codec, unknownModelRoute(settings)),
    ...models.flatMap((model) => model.routeBytes.path),
    routeOrThrow(codec, missingHeaderRoute()),
  ];
  return codec.fromBytes(TYPE_URLS.route, settings.grpcTarget, routeConfigurationBytes(settings.grpcTarget, VIRTUAL_HOST, routes));
}

/**
 * Puts validated models together with the shared resources (listeners, the route configuration, the
 * blackhole cluster) into a snapshot, and refuses it if it is not self-consistent.
 */
export function assembleSnapshot(models: readonly EncodedModel[], settings: MeshSettings, codec: ResourceCodec, version: string): AssembleResult {
  const sets = new Map<ResourceKind, Map<string, EncodedResource>>([
    ['cluster', new Map()],
    ['endpoint', new Map()],
    ['listener', new Map()],
    ['route', new Map()],
  ]);
  const add = (kind: ResourceKind, resource: EncodedResource) => sets.get(kind)?.set(resource.name, resource);
  for (const model of models) {
    for (const cluster of model.clusters) add('cluster', cluster);
    for (const assignment of model.endpoints) add('endpoint', assignment);
  }
  add('cluster', encodeOrThrow(codec, TYPE_URLS.cluster, BLACKHOLE_CLUSTER, blackholeCluster()));
  add('endpoint', encodeOrThrow(codec, TYPE_URLS.endpoint, BLACKHOLE_CLUSTER, clusterLoadAssignment(BLACKHOLE_CLUSTER, [])));
  add('route', sharedRoutes(models, settings, codec));
  add('listener', encodeOrThrow(codec, TYPE_URLS.listener, SIDECAR_LISTENER, sidecarListener(settings)));
  add('listener', encodeOrThrow(codec, TYPE_URLS.listener, settings.grpcTarget, apiListener(settings)));
  const snapshot = new Snapshot(version, sets, new Set([`listener/${settings.grpcTarget}`]));
  const problems = checkConsistency(snapshot, { [settings.grpcTarget]: [...routedClusters(models), BLACKHOLE_CLUSTER] });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, snapshot };
}
