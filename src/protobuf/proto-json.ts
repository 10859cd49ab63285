import type protobuf from 'protobufjs';
import { writeMessage } from './proto-json-write.ts';

/**
 * Canonical proto3 JSON out of protobufjs messages, with original (snake_case) field names: what `render`
 * prints and CSDS reports. (Reading proto3 JSON strictly is for tests only: test/support/proto3-json/.)
 *
 * `typeName` is a full message name such as `envoy.config.cluster.v3.Cluster`; an unknown name is a
 * programming error and throws.
 */

/** The canonical proto3 JSON of `message` (decoded, or built from a typed object). */
export function toProto3Json(root: protobuf.Root, typeName: string, message: object): unknown {
  return writeMessage(root, root.lookupType(typeName), message);
}

/** Decodes binary `bytes` of `typeName` and returns its canonical proto3 JSON. Throws on malformed bytes. */
export function decodeToJson(root: protobuf.Root, typeName: string, bytes: Uint8Array): unknown {
  const type = root.lookupType(typeName);
  return writeMessage(root, type, type.decode(bytes));
}
