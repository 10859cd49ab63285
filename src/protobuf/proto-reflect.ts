import protobuf from 'protobufjs';

/**
 * Small helpers over protobufjs reflection shared by the proto3 JSON mapping and the PGV validator.
 * Messages are read as plain property bags: decoded messages, `Type.create()` results and plain objects
 * in protobufjs' internal shape (enum numbers, Long or number for 64-bit ints, Uint8Array for bytes).
 */

export const WKT = {
  any: '.google.protobuf.Any',
  duration: '.google.protobuf.Duration',
  timestamp: '.google.protobuf.Timestamp',
  struct: '.google.protobuf.Struct',
  value: '.google.protobuf.Value',
  listValue: '.google.protobuf.ListValue',
  fieldMask: '.google.protobuf.FieldMask',
  empty: '.google.protobuf.Empty',
} as const;

/** Wrapper message full name -> the scalar type of its `value` field. */
export const WRAPPER_SCALARS: ReadonlyMap<string, string> = new Map([
  ['.google.protobuf.DoubleValue', 'double'],
  ['.google.protobuf.FloatValue', 'float'],
  ['.google.protobuf.Int64Value', 'int64'],
  ['.google.protobuf.UInt64Value', 'uint64'],
  ['.google.protobuf.Int32Value', 'int32'],
  ['.google.protobuf.UInt32Value', 'uint32'],
  ['.google.protobuf.BoolValue', 'bool'],
  ['.google.protobuf.StringValue', 'string'],
  ['.google.protobuf.BytesValue', 'bytes'],
]);

/** Types packed in an Any as `{"@type": ..., "value": <their JSON>}` rather than as inline fields. */
export function hasSpecialJson(type: protobuf.Type): boolean {
  const name = fullNameOf(type);
  return WRAPPER_SCALARS.has(name) || (name !== WKT.empty && Object.values<string>(WKT).includes(name));
}

const INT64_TYPES = new Set(['int64', 'sint64', 'sfixed64']);
const UINT64_TYPES = new Set(['uint64', 'fixed64']);

export function is64BitType(scalarType: string): boolean {
  return INT64_TYPES.has(scalarType) || UINT64_TYPES.has(scalarType);
}

export function isUnsignedType(scalarType: string): boolean {
  return UINT64_TYPES.has(scalarType) || scalarType === 'uint32' || scalarType === 'fixed32';
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

export function messageTypeOf(field: protobuf.FieldBase): protobuf.Type | undefined {
  return field.resolvedType instanceof protobuf.Type ? field.resolvedType : undefined;
}

/** Message fields, oneof members and `optional` scalars track presence; other proto3 scalars do not. */
export function hasExplicitPresence(field: protobuf.Field): boolean {
  if (field.repeated || field.map) return false;
  return messageTypeOf(field) !== undefined || Boolean(field.hasPresence);
}

/**
 * The value of `field` in `message`: an array for repeated fields, a record for maps, `undefined` for an
 * unset field with presence, and the proto3 default for an unset scalar without presence.
 */
export function readField(message: object, field: protobuf.Field): unknown {
  const value: unknown = Reflect.get(message, field.name);
  if (field.map) return isRecord(value) ? value : {};
  if (field.repeated) return Array.isArray(value) ? value : [];
  if (!hasExplicitPresence(field)) return value ?? field.defaultValue;
  if (value === undefined || value === null) return undefined;
  // protobufjs keeps scalar defaults on the prototype, so a scalar oneof member is set only when own.
  if (messageTypeOf(field) === undefined && !Object.hasOwn(message, field.name)) return undefined;
  return value;
}

interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
}

function isLongLike(value: unknown): value is LongLike {
  return isRecord(value) && typeof value['low'] === 'number' && typeof value['high'] === 'number';
}

/** A 64-bit (or smaller) integer held as number, decimal string, bigint or Long, as a bigint. */
export function toBigInt(value: unknown): bigint | undefined {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : undefined;
  if (typeof value === 'string') return /^-?\d+$/.test(value) ? BigInt(value) : undefined;
  if (!isLongLike(value)) return undefined;
  const bits = (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  return value.unsigned === true ? bits : BigInt.asIntN(64, bits);
}

/** A bigint as the Long protobufjs uses for 64-bit fields. */
export function toLong(value: bigint, unsigned: boolean): protobuf.Long {
  return protobuf.util.LongBits.from(BigInt.asIntN(64, value).toString()).toLong(unsigned);
}

/** protoc's json_name: `max_requests_per_connection` -> `maxRequestsPerConnection`. */
export function jsonNameOf(field: protobuf.FieldBase): string {
  const explicit: unknown = field.options?.['json_name'];
  if (typeof explicit === 'string') return explicit;
  return field.name.replace(/_+([a-zA-Z0-9])/g, (_match, next: string) => next.toUpperCase());
}

const fieldLookups = new WeakMap<protobuf.Type, ReadonlyMap<string, protobuf.Field>>();

/** The field a JSON key names, by original proto name or by json_name. */
export function fieldByJsonKey(type: protobuf.Type, key: string): protobuf.Field | undefined {
  let lookup = fieldLookups.get(type);
  if (lookup === undefined) {
    const map = new Map<string, protobuf.Field>();
    for (const field of type.fieldsArray) map.set(jsonNameOf(field), field);
    for (const field of type.fieldsArray) map.set(field.name, field);
    lookup = map;
    fieldLookups.set(type, lookup);
  }
  return lookup.get(key);
}

/** The message type a type URL (`type.googleapis.com/envoy.config.cluster.v3.Cluster`) names, if loaded. */
export function typeForUrl(root: protobuf.Root, typeUrl: string): protobuf.Type | undefined {
  const slash = typeUrl.lastIndexOf('/');
  const name = typeUrl.slice(slash + 1);
  if (slash < 0 || name === '') return undefined;
  const found = root.lookup(`.${name}`);
  // protobufjs' lookup also matches by suffix in nested namespaces; a type URL names the full name.
  return found instanceof protobuf.Type && fullNameOf(found) === `.${name}` ? found : undefined;
}

/** `record[key] = value` that stays an own data property even for keys like "__proto__". */
export function setEntry(record: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/** Bytes held as Uint8Array (decoded) or base64 string (some plain objects). */
export function toBytes(value: unknown): Uint8Array | undefined {
  if (value instanceof Uint8Array) return value;
  // protobufjs' default for an unset bytes field is a shared empty Array.
  if (Array.isArray(value) && value.every((byte) => typeof byte === 'number')) return Uint8Array.from(value);
  if (typeof value === 'string') return Buffer.from(value, 'base64');
  return undefined;
}

const fullNames = new WeakMap<protobuf.ReflectionObject, string>();

/** protobufjs computes fullName by walking parents on every access; validation asks for it millions of times. */
export function fullNameOf(object: protobuf.ReflectionObject): string {
  let name = fullNames.get(object);
  if (name === undefined) {
    name = object.fullName;
    fullNames.set(object, name);
  }
  return name;
}

const typesByRoot = new WeakMap<protobuf.Root, Map<string, protobuf.Type>>();

/** root.lookupType, remembered per root (lookups search the namespace tree each time). */
export function lookupTypeCached(root: protobuf.Root, name: string): protobuf.Type {
  let types = typesByRoot.get(root);
  if (!types) {
    types = new Map();
    typesByRoot.set(root, types);
  }
  let type = types.get(name);
  if (!type) {
    type = root.lookupType(name);
    types.set(name, type);
  }
  return type;
}
