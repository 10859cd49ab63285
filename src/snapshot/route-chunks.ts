import type { EncodedModel } from './encode-model.ts';
import { contentVersion } from './encoded-resource.ts';
import { VIRTUAL_HOST_ROUTES, taggedRoutes } from './route-bytes.ts';
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
