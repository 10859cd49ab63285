import type protobuf from 'protobufjs';
import type { FieldError } from './field-error.ts';
import { isRecord, lookupTypeCached } from './proto-reflect.ts';

export interface FromObjectResult {
  /** Set only when there are no errors. */
  message?: protobuf.Message;
  errors: FieldError[];
}

/**
 * A typed message object to a protobufjs message, by protobufjs's generated fromObject. The object has the
 * shape @grpc/proto-loader's generated types describe (src/envoy/types): field names as in the .proto,
 * enums by name, 64-bit integers as strings or numbers, wrappers and Durations as messages, Any as
 * `{'@type': url, ...fields}`. The compiler has checked that shape, so this does not check it again (an
 * unknown field would be dropped, not reported; tests that read proto3 JSON from files use the strict
 * reader in test/support/proto3-json). protobufjs encodes every field that is set, a proto3 default too,
 * so callers leave defaults out for canonical bytes.
 */
export function fromMessageObject(root: protobuf.Root, typeName: string, object: unknown): FromObjectResult {
  if (!isRecord(object)) return { errors: [{ path: '', message: `expected a ${typeName} object` }] };
  try {
    return { message: lookupTypeCached(root, typeName).fromObject(object), errors: [] };
  } catch (error) {
    return { errors: [{ path: '', message: error instanceof Error ? error.message : String(error) }] };
  }
}
