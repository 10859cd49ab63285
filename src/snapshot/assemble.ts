import { blackholeCluster } from '../envoy/cluster.ts';
import { clusterLoadAssignment } from '../envoy/endpoints.ts';
import { apiListener, sidecarListener, type SidecarFeatures } from '../envoy/listener.ts';
import { BLACKHOLE_CLUSTER, SIDECAR_LISTENER } from '../envoy/names.ts';
import { missingHeaderRoute, unknownModelRoute } from '../envoy/route-config.ts';
import { RESOURCE_KINDS, TYPE_URLS, type ResourceKind } from '../envoy/type-urls.ts';
import type { MeshSettings } from '../model/types.ts';
import { runToEnd, type Steps } from '../util/cooperative.ts';
import { hexDigest } from '../util/digest.ts';
import type { EncodedResource, ResourceCodec } from './codec.ts';
import { consistencySteps } from './consistency.ts';
import { ROUTE_TYPE, type EncodedModel } from './encode-model.ts';
import { grpcRouteTable, type Fallback, type RouteTable } from './route-tables.ts';
import { PerModelTargets } from './per-model-targets.ts';
import { versionOf } from './set-version.ts';
import { Snapshot, type ZoneVariants } from './snapshot.ts';


export type AssembleResult = { ok: true; snapshot: Snapshot } | { ok: false; problems: string[] };

function invalid(what: string, errors: { path: string; message: string }[]): Error {
  return new Error(`infermesh generated an invalid ${what}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
}

function encodeOrThrow(codec: ResourceCodec, typeUrl: string, name: string, json: unknown): EncodedResource {
  const result = codec.encode(typeUrl, name, json);
  if (!result.ok) throw invalid(`${name} (${typeUrl})`, result.errors);
  return result.resource;
}

function messageOrThrow(codec: ResourceCodec, type: string, json: object): Uint8Array {
  const result = codec.encodeMessage(type, json);
  if (!result.ok) throw invalid(`${type} ${'name' in json ? String(json.name) : ''}`, result.errors);
  return result.bytes;
}

/**
 * A route table as a resource: one with the same version as last time is the same resource, not written
 * again. Only the latest table of each name is remembered (each is tens of MB at 10,000 models).
 */
function routeResource(codec: ResourceCodec, table: RouteTable): EncodedResource {
  return codec.remember(
    `route table\n${table.name}`,
    () => codec.fromBytes(TYPE_URLS.route, table.name, table.bytes(), table.version),
    (last: EncodedResource) => last.version === table.version,
  );
}

/** What every snapshot holds besides the models: it depends on the settings alone, so it is built once for them. */
interface SharedResources {
  settings: MeshSettings;
  resources: [ResourceKind, EncodedResource][];
  fallback: Fallback;
  perModelTargets: PerModelTargets;
}

function sharedResources(codec: ResourceCodec, settings: MeshSettings): SharedResources {
  return codec.remember<SharedResources>(
    'shared resources',
    () => ({
      settings,
      resources: [
        ['cluster', encodeOrThrow(codec, TYPE_URLS.cluster, BLACKHOLE_CLUSTER, blackholeCluster())],
        ['endpoint', encodeOrThrow(codec, TYPE_URLS.endpoint, BLACKHOLE_CLUSTER, clusterLoadAssignment(BLACKHOLE_CLUSTER, []))],
        ['listener', encodeOrThrow(codec, TYPE_URLS.listener, settings.grpcTarget, apiListener(settings.grpcTarget))],
      ],
      fallback: { head: messageOrThrow(codec, ROUTE_TYPE, unknownModelRoute(settings)), tail: messageOrThrow(codec, ROUTE_TYPE, missingHeaderRoute()) },
      perModelTargets: new PerModelTargets(codec, settings),
    }),
    (last) => last.settings === settings,
  );
}

/**
 * The sidecar listener: it depends on the settings and on the features some served policy needs (the hold
 * filter for coldStart, the body-routing filters for modelFromBody), so sidecars pay nothing for a feature no
 * policy uses. Each form is kept once built: an operator switching the first such policy on and off again
 * gets the same resource back.
 */
function sidecarListenerResource(codec: ResourceCodec, settings: MeshSettings, features: Required<SidecarFeatures>): EncodedResource {
  return codec.remember<{ settings: MeshSettings; resource: EncodedResource }>(
    `sidecar listener\n${features.coldStart ? 'hold' : '-'}\n${features.bodyRouting ? 'body' : 'header'}`,
    () => ({ settings, resource: encodeOrThrow(codec, TYPE_URLS.listener, SIDECAR_LISTENER, sidecarListener(settings, features)) }),
    (last) => last.settings === settings,
  ).resource;
}

/**
 * Puts validated models together with the shared resources (listeners, the two route configurations, the
 * blackhole cluster) into a snapshot, and refuses it if it is not self-consistent.
 */
export function assembleSnapshot(models: readonly EncodedModel[], settings: MeshSettings, codec: ResourceCodec, sequence: number): AssembleResult {
  return runToEnd(assembleSteps(models, settings, codec, sequence));
}

/**
 * A snapshot's version: a digest of what it holds, so two replicas (or one after a restart) that serve the
 * same resources name them alike (delta responses carry it as system_version_info, /status as
 * snapshotVersion). The sequence stays the per-process order.
 */
function contentVersion(sets: ReadonlyMap<ResourceKind, ReadonlyMap<string, EncodedResource>>, zones: ZoneVariants): string {
  const kinds = RESOURCE_KINDS.map((kind) => `${kind} ${versionOf(sets.get(kind)?.values() ?? [])}`);
  const variants = [...zones].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([zone, set]) => `zone ${zone} ${versionOf(set.values())}`);
  return hexDigest([...kinds, ...variants].join('\n')).slice(0, 16);
}

/** assembleSnapshot, yielding after each model's share of the work (see cooperative.ts). */
export function* assembleSteps(models: readonly EncodedModel[], settings: MeshSettings, codec: ResourceCodec, sequence: number): Steps<AssembleResult> {
  const sets = new Map<ResourceKind, Map<string, EncodedResource>>(RESOURCE_KINDS.map((kind) => [kind, new Map()]));
  const add = (kind: ResourceKind, resource: EncodedResource) => sets.get(kind)?.set(resource.name, resource);
  const zones = new Map<string, Map<string, EncodedResource>>();
  for (const model of models) {
    for (const cluster of model.clusters) add('cluster', cluster);
    for (const assignment of model.endpoints) add('endpoint', assignment);
    for (const { zone, resource } of model.zoneEndpoints) {
      let set = zones.get(zone);
      if (!set) zones.set(zone, (set = new Map()));
      set.set(resource.name, resource);
    }
    for (const table of model.routeConfigs) add('route', table);
    for (const scope of model.scopes) add('scopedRoute', scope);
    yield;
  }
  const shared = sharedResources(codec, settings);
  for (const [kind, resource] of shared.resources) add(kind, resource);
  add('listener', sidecarListenerResource(codec, settings, { coldStart: models.some((model) => model.coldStart), bodyRouting: models.some((model) => model.modelFromBody) }));
  add('route', routeResource(codec, grpcRouteTable(models, shared.fallback, settings)));
  yield;
  yield;
  const snapshot = new Snapshot(contentVersion(sets, zones), sequence, sets, new Set([`listener/${settings.grpcTarget}`]), shared.perModelTargets.fallback, zones);
  yield;
  const routed = [...models.flatMap((model) => model.routedClusters), BLACKHOLE_CLUSTER];
  const routeClusters: Record<string, readonly string[]> = { [settings.grpcTarget]: routed };
  for (const model of models) {
    const own = [...model.routedClusters, BLACKHOLE_CLUSTER];
    for (const table of model.routeConfigs) routeClusters[table.name] = own;
  }
  const problems = yield* consistencySteps(snapshot, routeClusters);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, snapshot };
}
