import { createHash } from 'node:crypto';
import { VIRTUAL_HOST } from '../envoy/route-config.ts';
import type { MeshSettings } from '../model/types.ts';
import type { EncodedModel } from './encode-model.ts';
import type { Pieces } from './pieces.ts';
import { VIRTUAL_HOST_ROUTES, routeConfiguration, virtualHostHead } from './route-bytes.ts';
import { grpcHeaderChunk, grpcPathChunk, type Chunk } from './route-chunks.ts';

/**
 * The header-routed gRPC RouteConfiguration (every model), as a version worked out from its parts and the bytes, written only when
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
