import { blackholeCluster } from '../envoy/cluster.ts';
import { clusterLoadAssignment } from '../envoy/endpoints.ts';
import { apiListener, sidecarListener } from '../envoy/listener.ts';
import { BLACKHOLE_CLUSTER, SIDECAR_LISTENER, SIDECAR_ROUTE_CONFIG } from '../envoy/names.ts';
import { VIRTUAL_HOST, missingHeaderRoute, unknownModelRoute } from '../envoy/route-config.ts';
import { modelHeaderInput } from '../envoy/sidecar-route-config.ts';
import { TYPE_URLS, type ResourceKind } from '../envoy/type-urls.ts';
import type { MeshSettings } from '../model/types.ts';
import { runToEnd, type Steps } from '../util/cooperative.ts';
import type { EncodedResource, ResourceCodec } from './codec.ts';
import { consistencySteps, routedClusters } from './consistency.ts';
import { ROUTE_TYPE, type EncodedModel } from './encode-model.ts';
import { hoistRetryPolicy } from './retry-hoist.ts';
import { matchMapEntryBytes, matcherRouteConfigurationBytes, routeConfigurationBytes } from './route-bytes.ts';
import { Snapshot } from './snapshot.ts';
import type { Pieces } from './pieces.ts';

const TYPED_EXTENSION_TYPE = 'envoy.config.core.v3.TypedExtensionConfig';

export type AssembleResult = { ok: true; snapshot: Snapshot } | { ok: false; problems: string[] };

function invalid(what: string, errors: { path: string; message: string }[]): Error {
  return new Error(`infermesh generated an invalid ${what}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
}

function encodeOrThrow(codec: ResourceCodec, typeUrl: string, name: string, json: unknown): EncodedResource {
  const result = codec.encode(typeUrl, name, json);
  if (!result.ok) throw invalid(`${name} (${typeUrl})`, result.errors);
  return result.resource;
}

function messageOrThrow(codec: ResourceCodec, type: string, json: Record<string, unknown>): Uint8Array {
  const result = codec.encodeMessage(type, json);
  if (!result.ok) throw invalid(`${type} ${String(json['name'])}`, result.errors);
  return result.bytes;
}

/** Unknown model, every model's path routes, missing header: what runs when no model name selects a route. */
function fallbackRouteBytes(models: readonly EncodedModel[], settings: MeshSettings, codec: ResourceCodec): Uint8Array[] {
  const routes = [messageOrThrow(codec, ROUTE_TYPE, unknownModelRoute(settings))];
  for (const model of models) routes.push(...model.routeBytes.path);
  routes.push(messageOrThrow(codec, ROUTE_TYPE, missingHeaderRoute()));
  return routes;
}

/** The gRPC API listener's RouteConfiguration: every model's header routes as one list, then the fallback. */
function grpcRoutes(models: readonly EncodedModel[], fallback: Uint8Array[], settings: MeshSettings, codec: ResourceCodec): EncodedResource {
  const header = models.flatMap((model) => model.routeBytes.byName.flatMap((group) => group.routes));
  return codec.fromBytes(TYPE_URLS.route, settings.grpcTarget, routeConfigurationBytes(settings.grpcTarget, VIRTUAL_HOST, [...header, ...fallback]));
}

/**
 * The sidecars' RouteConfiguration: model names in an exact-match map, the fallback when none matches, and
 * the most common retry policy on the virtual host instead of on every route.
 */
function* sidecarRoutes(models: readonly EncodedModel[], fallback: Uint8Array[], settings: MeshSettings, codec: ResourceCodec): Steps<EncodedResource> {
  const named = models.flatMap((model) => model.routeBytes.byName);
  if (named.length === 0) return codec.fromBytes(TYPE_URLS.route, SIDECAR_ROUTE_CONFIG, routeConfigurationBytes(SIDECAR_ROUTE_CONFIG, VIRTUAL_HOST, fallback));
  const hoisted = yield* hoistRetryPolicy(named, fallback);
  const input = messageOrThrow(codec, TYPED_EXTENSION_TYPE, modelHeaderInput(settings));
  const entries: Pieces[] = [];
  for (const group of hoisted.named) {
    entries.push(matchMapEntryBytes(group));
    yield;
  }
  const bytes = matcherRouteConfigurationBytes(SIDECAR_ROUTE_CONFIG, VIRTUAL_HOST, input, entries, hoisted.fallback, hoisted.hostRetryPolicy);
  yield;
  return codec.fromBytes(TYPE_URLS.route, SIDECAR_ROUTE_CONFIG, bytes);
}

/**
 * Puts validated models together with the shared resources (listeners, the two route configurations, the
 * blackhole cluster) into a snapshot, and refuses it if it is not self-consistent.
 */
export function assembleSnapshot(models: readonly EncodedModel[], settings: MeshSettings, codec: ResourceCodec, sequence: number): AssembleResult {
  return runToEnd(assembleSteps(models, settings, codec, sequence));
}

/** assembleSnapshot, yielding after each model's share of the work (see cooperative.ts). The version is the sequence number as text. */
export function* assembleSteps(models: readonly EncodedModel[], settings: MeshSettings, codec: ResourceCodec, sequence: number): Steps<AssembleResult> {
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
    yield;
  }
  add('cluster', encodeOrThrow(codec, TYPE_URLS.cluster, BLACKHOLE_CLUSTER, blackholeCluster()));
  add('endpoint', encodeOrThrow(codec, TYPE_URLS.endpoint, BLACKHOLE_CLUSTER, clusterLoadAssignment(BLACKHOLE_CLUSTER, [])));
  const fallback = fallbackRouteBytes(models, settings, codec);
  yield;
  add('route', grpcRoutes(models, fallback, settings, codec));
  yield;
  add('route', yield* sidecarRoutes(models, fallback, settings, codec));
  add('listener', encodeOrThrow(codec, TYPE_URLS.listener, SIDECAR_LISTENER, sidecarListener(settings)));
  add('listener', encodeOrThrow(codec, TYPE_URLS.listener, settings.grpcTarget, apiListener(settings)));
  yield;
  const snapshot = new Snapshot(String(sequence), sequence, sets, new Set([`listener/${settings.grpcTarget}`]));
  yield;
  const routed = [...routedClusters(models), BLACKHOLE_CLUSTER];
  const problems = yield* consistencySteps(snapshot, { [settings.grpcTarget]: routed, [SIDECAR_ROUTE_CONFIG]: routed });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, snapshot };
}
