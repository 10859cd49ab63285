import type protobuf from 'protobufjs';
import type { FieldError } from '../../../src/protobuf/field-error.ts';
import { newJsonReader } from './read.ts';

export { decodeToJson, toProto3Json } from '../../../src/protobuf/proto-json.ts';

/**
 * Strict proto3 JSON reading over protobufjs reflection, for tests that read JSON written elsewhere (golden
 * files, generated bootstrap, PGV fixtures). Production never reads proto3 JSON: the builders write typed
 * messages (src/protobuf/message-object.ts).
 *
 * Reading accepts original (snake_case) and lowerCamelCase field names and rejects what protobufjs'
 * own fromObject silently drops: unknown fields (with a "did you mean"), wrong JSON types, unknown enum
 * names, out-of-range integers, two members of one oneof, unknown Any types. For any JSON `j` that reads
 * without errors, `toProto3Json(decode(encode(fromProto3Json(j))))` is canonical and a fixed point of the
 * round trip.
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

/** fromProto3Json, then the binary encoding. */
export function encodeProto3Json(root: protobuf.Root, typeName: string, json: unknown): EncodeResult {
  const { message, errors } = fromProto3Json(root, typeName, json);
  if (message === undefined) return { errors };
  return { bytes: root.lookupType(typeName).encode(message).finish(), errors: [] };
}
