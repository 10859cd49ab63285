import protobuf from 'protobufjs';
import { isDefaultScalar, writeScalar } from './proto-json-scalars.ts';
import {
  fullNameOf,
  hasExplicitPresence,
  hasSpecialJson,
  is64BitType,
  isRecord,
  isUnsignedType,
  lookupTypeCached,
  messageTypeOf,
  readField,
  toBytes,
  typeForUrl,
  WKT,
  WRAPPER_SCALARS,
} from './proto-reflect.ts';
import { formatProtoDuration } from '../util/duration.ts';
import { formatTimestamp, messageNanos } from './proto-time.ts';

/**
 * protobufjs message -> canonical proto3 JSON with original (snake_case) field names, as Envoy's
 * config_dump prints it: defaults omitted, presence fields kept when set, enums by name, 64-bit ints and
 * bytes as strings, well-known types in their special forms, Any as `@type` plus the payload's fields.
 */
export function writeMessage(root: protobuf.Root, type: protobuf.Type, message: unknown): unknown {
  if (!isRecord(message)) return {};
  const special = writeWellKnown(root, type, message);
  if (special !== undefined) return special;
  const json: Record<string, unknown> = {};
  for (const field of type.fieldsArray) {
    const value = readField(message, field);
    if (!isPresent(field, value)) continue;
    json[field.name] = writeFieldValue(root, field, value);
  }
  return json;
}

function isPresent(field: protobuf.Field, value: unknown): boolean {
  if (field.map) return isRecord(value) && Object.keys(value).length > 0;
  if (field.repeated) return Array.isArray(value) && value.length > 0;
  if (hasExplicitPresence(field)) return value !== undefined;
  return !isDefaultScalar(value);
}

function writeFieldValue(root: protobuf.Root, field: protobuf.Field, value: unknown): unknown {
  if (field instanceof protobuf.MapField && isRecord(value)) {
    const entries = Object.entries(value).map(([key, item]) => [mapKeyJson(field.keyType, key), writeValue(root, field, item)]);
    return Object.fromEntries(entries);
  }
  if (field.repeated && Array.isArray(value)) return value.map((item: unknown) => writeValue(root, field, item));
  return writeValue(root, field, value);
}

/** protobufjs keys decoded 64-bit maps by an 8-character binary hash of the Long; print the number. */
function mapKeyJson(keyType: string, key: string): string {
  if (!is64BitType(keyType) || /^-?\d+$/.test(key)) return key;
  return protobuf.util.LongBits.fromHash(key).toLong(isUnsignedType(keyType)).toString();
}

function writeValue(root: protobuf.Root, field: protobuf.FieldBase, value: unknown): unknown {
  const messageType = messageTypeOf(field);
  if (messageType !== undefined) return writeMessage(root, messageType, value);
  if (field.resolvedType instanceof protobuf.Enum) return writeEnum(field.resolvedType, value);
  return writeScalar(field.type, value);
}

function writeEnum(enumType: protobuf.Enum, value: unknown): unknown {
  if (fullNameOf(enumType) === '.google.protobuf.NullValue') return null;
  if (typeof value !== 'number') return value;
  return enumType.valuesById[value] ?? value;
}

function writeWellKnown(root: protobuf.Root, type: protobuf.Type, message: Record<string, unknown>): unknown {
  const name = fullNameOf(type);
  const wrapped = WRAPPER_SCALARS.get(name);
  if (wrapped !== undefined) {
    const value = message['value'];
    return writeScalar(wrapped, value ?? type.fields['value']?.defaultValue);
  }
  switch (name) {
    case WKT.any:
      return writeAny(root, message);
    case WKT.duration:
      return formatProtoDuration(messageNanos(message));
    case WKT.timestamp:
      return formatTimestamp(messageNanos(message));
    case WKT.struct:
      return writeStruct(root, message);
    case WKT.value:
      return writeStructValue(root, message);
    case WKT.listValue:
      return writeListValue(root, message);
    case WKT.fieldMask:
      return writeFieldMask(message);
    default:
      return undefined;
  }
}

function writeStruct(root: protobuf.Root, message: Record<string, unknown>): Record<string, unknown> {
  const fields = isRecord(message['fields']) ? message['fields'] : {};
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, writeStructValue(root, value)]));
}

function writeListValue(root: protobuf.Root, message: Record<string, unknown>): unknown[] {
  const values = Array.isArray(message['values']) ? message['values'] : [];
  return values.map((value: unknown) => writeStructValue(root, value));
}

/** The JSON of a google.protobuf.Value: whichever member of its `kind` oneof is set. */
function writeStructValue(root: protobuf.Root, value: unknown): unknown {
  if (!isRecord(value)) return null;
  for (const field of lookupTypeCached(root, WKT.value).fieldsArray) {
    const member = readField(value, field);
    if (member !== undefined) return writeValue(root, field, member);
  }
  return null;
}

function writeFieldMask(message: Record<string, unknown>): string {
  const paths = Array.isArray(message['paths']) ? message['paths'] : [];
  return paths.map((path) => String(path).replace(/_([a-z0-9])/g, (_match, next: string) => next.toUpperCase())).join(',');
}

/**
 * `{"@type": url, ...payload}` (or `"value": payload` for well-known payloads). A payload whose type is
 * not loaded, or that does not decode, is printed as `{"@type": url, "value": "<base64>"}` so that a
 * dump never throws; fromProto3Json rejects that form for message payloads.
 */
function writeAny(root: protobuf.Root, message: Record<string, unknown>): Record<string, unknown> {
  const typeUrl = typeof message['type_url'] === 'string' ? message['type_url'] : '';
  const bytes = toBytes(message['value']) ?? new Uint8Array();
  if (typeUrl === '' && bytes.length === 0) return {};
  const payloadType = typeForUrl(root, typeUrl);
  const payload = payloadType === undefined ? undefined : tryDecode(payloadType, bytes);
  if (payloadType === undefined || payload === undefined) {
    return { '@type': typeUrl, value: Buffer.from(bytes).toString('base64') };
  }
  const json = writeMessage(root, payloadType, payload);
  if (hasSpecialJson(payloadType) || !isRecord(json)) return { '@type': typeUrl, value: json };
  return { '@type': typeUrl, ...json };
}

function tryDecode(type: protobuf.Type, bytes: Uint8Array): protobuf.Message | undefined {
  try {
    return type.decode(bytes);
  } catch {
    return undefined;
  }
}
