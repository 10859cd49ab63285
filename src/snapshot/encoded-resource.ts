import { hexDigest } from '../util/digest.ts';
import type protobuf from 'protobufjs';
import { toProto3Json } from '../protobuf/proto-json.ts';
import { messageName } from '../envoy/type-urls.ts';
import { Pieces } from './pieces.ts';
import { resourceDigest } from './set-version.ts';

/** One xDS resource, checked against Envoy's protos and encoded once, shared by every stream. */
export interface EncodedResource {
  readonly name: string;
  readonly typeUrl: string;
  /** Content hash of the encoded bytes: equal versions mean equal resources. */
  readonly version: string;
  /** The resource wrapped in google.protobuf.Any, ready to be copied into a DiscoveryResponse. */
  readonly any: Uint8Array;
  /** What this resource adds to the version of a set it is in (set-version.ts), when worked out up front. */
  readonly setDigest?: readonly number[];
  /** The canonical proto3 JSON form (what `render` prints and CSDS reports); decoded from the bytes when asked, not kept. */
  readonly json: unknown;
}

/** A hex content hash of bytes, short enough to be a version. */
export function contentVersion(bytes: Uint8Array): string {
  return hexDigest(bytes).slice(0, 16);
}

/**
 * A resource from its message bytes (or the pieces they are written from), which must already be valid.
 * The Any holds the only copy of the bytes: `json` decodes them from there each time it is asked (rarely:
 * render, CSDS), so 20,000 decoded clusters are not kept beside their bytes. A class, so 40,000 resources
 * share one shape and one getter rather than each carrying its own closure.
 */
class AnyResource implements EncodedResource {
  readonly name: string;
  readonly typeUrl: string;
  readonly version: string;
  readonly any: Uint8Array;
  readonly setDigest: readonly number[];
  readonly #root: protobuf.Root;
  readonly #valueStart: number;

  constructor(root: protobuf.Root, typeUrl: string, name: string, value: Uint8Array | Pieces, version: string) {
    this.name = name;
    this.typeUrl = typeUrl;
    this.version = version;
    this.setDigest = resourceDigest(name, version);
    this.any = new Pieces().field(1, typeUrl).field(2, value).finish();
    this.#root = root;
    this.#valueStart = this.any.length - value.length;
  }

  get json(): unknown {
    const typeName = messageName(this.typeUrl);
    return toProto3Json(this.#root, typeName, this.#root.lookupType(typeName).decode(this.any.subarray(this.#valueStart)));
  }
}

/** `version` defaults to the bytes' content hash; a caller that knows an equivalent hash of the parts may pass it. */
export function encodedResource(root: protobuf.Root, typeUrl: string, name: string, value: Uint8Array | Pieces, version = contentVersion(value instanceof Pieces ? value.finish() : value)): EncodedResource {
  return new AnyResource(root, typeUrl, name, value, version);
}
