import { createHash } from 'node:crypto';
import type protobuf from 'protobufjs';
import { toProto3Json } from '../protobuf/proto-json.ts';
import { messageName } from '../envoy/type-urls.ts';
import { Pieces } from './pieces.ts';

/** One xDS resource, checked against Envoy's protos and encoded once, shared by every stream. */
export interface EncodedResource {
  readonly name: string;
  readonly typeUrl: string;
  /** Content hash of the encoded bytes: equal versions mean equal resources. */
  readonly version: string;
  /** The resource wrapped in google.protobuf.Any, ready to be copied into a DiscoveryResponse. */
  readonly any: Uint8Array;
  /** The canonical proto3 JSON form (what `render` prints and CSDS reports); decoded from the bytes when asked, not kept. */
  readonly json: unknown;
}

/** A hex content hash of bytes (or of several pieces of them, in order), short enough to be a version. */
export function contentVersion(...parts: (Uint8Array | string)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex').slice(0, 16);
}

/**
 * A resource from its message bytes (or the pieces they are written from), which must already be valid.
 * The Any holds the only copy of the bytes: `json` decodes them from there each time it is asked (rarely:
 * render, CSDS), so 20,000 decoded clusters are not kept beside their bytes. `version` defaults to the bytes' content hash; a caller
 * that knows an equivalent hash of the parts the bytes were written from may pass it instead.
 */
export function encodedResource(root: protobuf.Root, typeUrl: string, name: string, value: Uint8Array | Pieces, version = contentVersion(value instanceof Pieces ? value.finish() : value)): EncodedResource {
  const any = new Pieces().field(1, typeUrl).field(2, value).finish();
  const start = any.length - value.length;
  return {
    name,
    typeUrl,
    version,
    any,
    get json() {
      const typeName = messageName(typeUrl);
      return toProto3Json(root, typeName, root.lookupType(typeName).decode(any.subarray(start)));
    },
  };
}
