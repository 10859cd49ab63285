import type { EncodedModel } from './encode-model.ts';
import { contentVersion } from './encoded-resource.ts';
import { policyRun, underHostPolicy, type PolicyRun, type RetryPolicy } from './retry-hoist.ts';
import { ROUTE_LIST_ROUTES, VIRTUAL_HOST_ROUTES, matchMapEntryBytes, taggedRoutes } from './route-bytes.ts';
import { Pieces } from './pieces.ts';

/**
 * One model's share of a route configuration, already written as tagged fields, with a hash of exactly those
 * bytes. Worked out once per encoded model and kept with it, so a rebuild writes a configuration of 10,000
 * models by copying 10,000 chunks and versions it by hashing 10,000 short versions, not 40 MB of bytes.
 */
export interface Chunk {
  readonly bytes: Uint8Array;
  readonly version: string;
}

function chunk(pieces: Pieces): Chunk {
  const bytes = pieces.finish();
  return { bytes, version: contentVersion(bytes) };
}

interface ModelChunks {
  grpcHeader?: Chunk;
  grpcPath?: Chunk;
  namedPolicies?: PolicyRun;
  pathPolicies?: PolicyRun;
  /** The sidecar map entries and fallback routes for the latest retry policy hoisted to the host. */
  sidecar?: { hostKey: string | undefined; entries: Chunk; path: Chunk };
}

const chunks = new WeakMap<EncodedModel, ModelChunks>();

function chunksOf(model: EncodedModel): ModelChunks {
  let known = chunks.get(model);
  if (!known) {
    known = {};
    chunks.set(model, known);
  }
  return known;
}

/** The model's header routes as VirtualHost.routes of the gRPC configuration. */
export function grpcHeaderChunk(model: EncodedModel): Chunk {
  const known = chunksOf(model);
  known.grpcHeader ??= chunk(taggedRoutes(VIRTUAL_HOST_ROUTES, model.routeBytes.byName.flatMap((group) => group.routes)));
  return known.grpcHeader;
}

/** The model's path routes (part of the fallback) as VirtualHost.routes of the gRPC configuration. */
export function grpcPathChunk(model: EncodedModel): Chunk {
  const known = chunksOf(model);
  known.grpcPath ??= chunk(taggedRoutes(VIRTUAL_HOST_ROUTES, model.routeBytes.path));
  return known.grpcPath;
}

/** The retry policies of the model's named routes, in route order (retry-hoist.ts). */
export function namedPolicies(model: EncodedModel): PolicyRun {
  const known = chunksOf(model);
  known.namedPolicies ??= policyRun(model.routeBytes.byName.flatMap((group) => group.routes));
  return known.namedPolicies;
}

/** The retry policies of the model's path routes. */
export function pathPolicies(model: EncodedModel): PolicyRun {
  const known = chunksOf(model);
  known.pathPolicies ??= policyRun(model.routeBytes.path);
  return known.pathPolicies;
}

/**
 * The model's exact-match map entries and its path routes (as RouteList.routes) in the sidecar table, each
 * route without its retry policy when that is the one hoisted to the virtual host. Kept for the latest
 * hoisted policy only: it changes rarely, and then for every model at once.
 */
export function sidecarChunks(model: EncodedModel, host: RetryPolicy | undefined): { entries: Chunk; path: Chunk } {
  const known = chunksOf(model);
  if (known.sidecar?.hostKey !== host?.key || !known.sidecar) {
    const named = namedPolicies(model);
    const entries = new Pieces();
    let at = 0;
    for (const group of model.routeBytes.byName) {
      const routes = group.routes.map(() => underHostPolicy(named, at++, host));
      entries.append(matchMapEntryBytes({ name: group.name, routes }));
    }
    const path = pathPolicies(model);
    const pathRoutes = path.routes.map((_, i) => underHostPolicy(path, i, host));
    known.sidecar = { hostKey: host?.key, entries: chunk(entries), path: chunk(taggedRoutes(ROUTE_LIST_ROUTES, pathRoutes)) };
  }
  return known.sidecar;
}
