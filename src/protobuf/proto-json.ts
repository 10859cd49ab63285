import type protobuf from 'protobufjs';
import type { FieldError } from './field-error.ts';
import { newJsonReader } from './proto-json-read.ts';
import { writeMessage } from './proto-json-write.ts';

/**
 * Strict proto3 JSON mapping over protobufjs reflection.
 *
 * Reading accepts original (snake_case) and lowerCamelCase field names and rejects what protobufjs'
 * own fromObject silently drops: unknown fields (with a "did you mean"), wrong JSON types, unknown enum
 * names, out-of-range integers, two members of one oneof, unknown Any types. Writing produces the
 * canonical form with original field names. For any JSON `j` that reads without errors,
 * `toProto3Json(decode(encode(fromProto3Json(j))))` is canonical and a fixed point of the round trip.
 *
 * `typeName` is a full message name such as `envoy.config.cluster.v3.Cluster`; an unknown name is a
 * programming error and throws.
 */

export interface FromJsonResult {
  /** Set only when there are no errors. */
  message?: protobuf.Message;
  errors: FieldError[];
}

export interface EncodeResult {
  /** Set only when there are no errors. */
  bytes?: Uint8Array;
  errors: FieldError[];
}

/** Reads proto3 JSON (already parsed, e.g. from YAML) into a message of `typeName`. */
export function fromProto3Json(root: protobuf.Root, typeName: string, json: unknown): FromJsonResult {
  const type = root.lookupType(typeName);
  const reader = newJsonReader(root);
  const message = reader.readMessage(reader, type, json, '');
  if (reader.errors.length > 0 || message === undefined) return { errors: reader.errors };
  return { message, errors: [] };
}

/** The canonical proto3 JSON of `message` (decoded, or built by fromProto3Json). */
export function toProto3Json(root: protobuf.Root, typeName: string, message: object): unknown {
  return writeMessage(root, root.lookupType(typeName), message);
}

/** fromProto3Json, then the binary encoding. */
export function encodeProto3Json(root: protobuf.Root, typeName: string, json: unknown): EncodeResult {
  const { message, errors } = fromProto3Json(root, typeName, json);
  if (message === undefined) return { errors };
  return { bytes: root.lookupType(typeName).encode(message).finish(), errors: [] };
}

/** Decodes binary `bytes` of `typeName` and returns its canonical proto3 JSON. Throws on malformed bytes. */
export function decodeToJson(root: protobuf.Root, typeName: string, bytes: Uint8Array): unknown {
  const type = root.lookupType(typeName);
  return writeMessage(root, type, type.decode(bytes));
}
