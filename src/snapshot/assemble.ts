import { blackholeCluster } from '../envoy/cluster.ts';
import { clusterLoadAssignment } from '../envoy/endpoints.ts';
import { apiListener, sidecarListener } from '../envoy/listener.ts';
import { BLACKHOLE_CLUSTER, SIDECAR_LISTENER } from '../envoy/names.ts';
import { routeConfiguration } from '../envoy/route-config.ts';
import { TYPE_URLS, type ResourceKind } from '../envoy/type-urls.ts';
import type { MeshSettings } from '../model/types.ts';
import type { EncodedResource, ResourceCodec } from './codec.ts';
import { checkConsistency } from './consistency.ts';
import type { EncodedModel } from './encode-model.ts';
import { Snapshot } from './snapshot.ts';

export type AssembleResult = { ok: true; snapshot: Snapshot } | { ok: false; problems: string[] };

function encodeOrThrow(codec: ResourceCodec, typeUrl: string, name: string, json: unknown): EncodedResource {
  const result = codec.encode(typeUrl, name, json);
  if (!result.ok) {
    const details = result.errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new Error(`infermesh generated an invalid ${name} (${typeUrl}): ${details}`);
  }
  return result.resource;
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
  const routeJson = routeConfiguration(models.map((m) => m.routes), settings);
  add('route', encodeOrThrow(codec, TYPE_URLS.route, settings.grpcTarget, routeJson));
  add('listener', encodeOrThrow(codec, TYPE_URLS.listener, SIDECAR_LISTENER, sidecarListener(settings)));
  add('listener', encodeOrThrow(codec, TYPE_URLS.listener, settings.grpcTarget, apiListener(settings)));
  const snapshot = new Snapshot(version, sets, new Set([`listener/${settings.grpcTarget}`]));
  const problems = checkConsistency(snapshot);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, snapshot };
}
