import { createHash } from 'node:crypto';
import { SIDECAR_ROUTE_CONFIG } from '../envoy/names.ts';
import { VIRTUAL_HOST } from '../envoy/route-config.ts';
import type { MeshSettings } from '../model/types.ts';
import type { EncodedModel } from './encode-model.ts';
import { Pieces } from './pieces.ts';
import { hostRetryPolicy, policyRun, underHostPolicy } from './retry-hoist.ts';
import { ROUTE_LIST_ROUTES, VIRTUAL_HOST_ROUTES, matcherVirtualHost, routeConfiguration, routeConfigurationBytes, virtualHostHead } from './route-bytes.ts';
import { grpcHeaderChunk, grpcPathChunk, namedPolicies, pathPolicies, sidecarChunks, type Chunk } from './route-chunks.ts';

/**
 * The two RouteConfigurations, each as a version worked out from its parts and the bytes, written only when
 * asked for: a rebuild whose routes did not change (endpoint churn) finds the version it already has and
 * writes nothing. The version is a hash of the literal parts' bytes and the chunks' versions, in order, each
 * with its length, so it changes exactly when the bytes do and is the same on every replica.
 */
export interface RouteTable {
  name: string;
  version: string;
  bytes: () => Uint8Array | Pieces;
}

/** The routes every configuration ends with when no model route matches: unknown model, every model's path routes, missing header. */
export interface Fallback {
  head: Uint8Array;
  tail: Uint8Array;
}

class TableVersion {
  readonly #hash = createHash('sha256');

  add(part: Uint8Array | string | Chunk): this {
    const value = typeof part === 'string' || part instanceof Uint8Array ? part : part.version;
    this.#hash.update(`${value.length}:`).update(value);
    return this;
  }

  digest(): string {
    return this.#hash.digest('hex').slice(0, 16);
  }
}

/** The gRPC API listener's table: every model's header routes as one list, then the fallback. */
export function grpcRouteTable(models: readonly EncodedModel[], fallback: Fallback, settings: MeshSettings): RouteTable {
  const name = settings.grpcTarget;
  const version = new TableVersion().add('grpc').add(name);
  for (const model of models) version.add(grpcHeaderChunk(model));
  version.add(fallback.head);
  for (const model of models) version.add(grpcPathChunk(model));
  version.add(fallback.tail);
  const bytes = () => {
    const host = virtualHostHead(VIRTUAL_HOST);
    for (const model of models) host.raw(grpcHeaderChunk(model).bytes);
    host.field(VIRTUAL_HOST_ROUTES, fallback.head);
    for (const model of models) host.raw(grpcPathChunk(model).bytes);
    host.field(VIRTUAL_HOST_ROUTES, fallback.tail);
    return routeConfiguration(name, host);
  };
  return { name, version: version.digest(), bytes };
}

/**
 * The sidecars' table: model names in an exact-match map, the fallback when none matches, and the most
 * common retry policy on the virtual host instead of on every route (retry-hoist.ts).
 */
export function sidecarRouteTable(models: readonly EncodedModel[], fallback: Fallback, modelHeaderInput: Uint8Array): RouteTable {
  const name = SIDECAR_ROUTE_CONFIG;
  if (!models.some((model) => model.routeBytes.byName.length > 0)) {
    const routes = [fallback.head, ...models.flatMap((model) => model.routeBytes.path), fallback.tail];
    const version = new TableVersion().add('plain').add(name);
    for (const route of routes) version.add(route);
    return { name, version: version.digest(), bytes: () => routeConfigurationBytes(name, VIRTUAL_HOST, routes) };
  }
  const headRun = policyRun([fallback.head]);
  const tailRun = policyRun([fallback.tail]);
  const policy = hostRetryPolicy([...models.map(namedPolicies), headRun, ...models.map(pathPolicies), tailRun]);
  const head = underHostPolicy(headRun, 0, policy);
  const tail = underHostPolicy(tailRun, 0, policy);
  const version = new TableVersion().add('matcher').add(name).add(modelHeaderInput).add(policy ? 'host policy' : 'no host policy').add(policy?.bytes ?? '');
  for (const model of models) version.add(sidecarChunks(model, policy).entries);
  version.add(head);
  for (const model of models) version.add(sidecarChunks(model, policy).path);
  version.add(tail);
  const bytes = () => {
    const entries = new Pieces();
    for (const model of models) entries.raw(sidecarChunks(model, policy).entries.bytes);
    const routes = new Pieces().field(ROUTE_LIST_ROUTES, head);
    for (const model of models) routes.raw(sidecarChunks(model, policy).path.bytes);
    routes.field(ROUTE_LIST_ROUTES, tail);
    return routeConfiguration(name, matcherVirtualHost(VIRTUAL_HOST, modelHeaderInput, entries, routes, policy?.bytes));
  };
  return { name, version: version.digest(), bytes };
}
