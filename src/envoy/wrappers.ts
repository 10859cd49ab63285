import type { Struct } from './messages.ts';

/**
 * Messages with a canonical shape that builders write often. protobufjs encodes every field that is set, a
 * proto3 default too, so these leave defaults out: the bytes are then the canonical encoding, as protoc's.
 */

/** google.protobuf.UInt32Value; one holding 0 is an empty (but present) message. */
export function uint32Value(value: number): { value?: number } {
  return value === 0 ? {} : { value };
}

/** google.protobuf.BoolValue; one holding false is an empty (but present) message. */
export function boolValue(value: boolean): { value?: boolean } {
  return value ? { value } : {};
}

/** envoy.type.v3.Percent; 0% is an empty (but present) message. */
export function percent(value: number): { value?: number } {
  return value === 0 ? {} : { value };
}

/** google.protobuf.Struct of flat string, number and bool fields. */
export function flatStruct(fields: Readonly<Record<string, string | number | boolean>>): Struct {
  const values: NonNullable<Struct['fields']> = {};
  for (const [key, value] of Object.entries(fields)) {
    values[key] = typeof value === 'string' ? { stringValue: value } : typeof value === 'number' ? { numberValue: value } : { boolValue: value };
  }
  return { fields: values };
}
