import type protobuf from 'protobufjs';
import type { FieldError } from '../../../src/protobuf/field-error.ts';
import { fullNameOf } from '../../../src/protobuf/proto-reflect.ts';

/**
 * The state of one strict proto3 JSON read. The well-known types (well-known.ts) read nested
 * messages through `readMessage` and `readObject`, so neither reader module imports the other's caller.
 */
export interface JsonReader {
  root: protobuf.Root;
  errors: FieldError[];
  readMessage(reader: JsonReader, type: protobuf.Type, json: unknown, path: string): protobuf.Message | undefined;
  readObject(reader: JsonReader, type: protobuf.Type, json: Record<string, unknown>, path: string): protobuf.Message;
}

export function fail(reader: JsonReader, path: string, message: string): undefined {
  reader.errors.push({ path, message });
  return undefined;
}

/** `envoy.config.route.v3.RouteMatch` (full name without the leading dot). */
export function typeLabel(type: protobuf.ReflectionObject): string {
  return fullNameOf(type).replace(/^\./, '');
}
