import protobuf from 'protobufjs';
import { fieldPath, indexPath, keyPath } from '../../../src/protobuf/field-error.ts';
import { fail, type JsonReader, typeLabel } from './reader.ts';
import { isDefaultScalar } from '../../../src/protobuf/proto-json-scalars.ts';
import { describeJson, readScalar } from './scalars.ts';
import { readWellKnown } from './well-known.ts';
import { fullNameOf, fieldByJsonKey, hasExplicitPresence, is64BitType, isRecord, jsonNameOf, setEntry, WKT } from '../../../src/protobuf/proto-reflect.ts';
import { closestMatch } from '../../../src/util/suggest.ts';

/** Strict proto3 JSON -> protobufjs message. Errors are collected, never thrown. */

/** What a value is read as: a field's proto type, or a map's key/value type. */
interface ValueKind {
  type: string;
  resolved: protobuf.Type | protobuf.Enum | null;
}

/** A reader for one message; the well-known types read their nested messages back through it. */
export function newJsonReader(root: protobuf.Root): JsonReader {
  return { root, errors: [], readMessage, readObject };
}

/** Reads `json` as a message of `type`; undefined (with errors recorded) when it cannot. */
export function readMessage(reader: JsonReader, type: protobuf.Type, json: unknown, path: string): protobuf.Message | undefined {
  const special = readWellKnown(reader, type, json, path);
  if (special !== 'not-well-known') return special;
  if (!isRecord(json)) return fail(reader, path, `expected an object (${typeLabel(type)}), got ${describeJson(json)}`);
  return readObject(reader, type, json, path);
}

/** Fields read so far from one JSON object. */
interface ObjectState {
  properties: Record<string, unknown>;
  keysByField: Map<protobuf.Field, string>;
  setOneofs: Map<protobuf.OneOf, string>;
}

/** Reads the fields of an ordinary message from a JSON object. */
export function readObject(reader: JsonReader, type: protobuf.Type, json: Record<string, unknown>, path: string): protobuf.Message {
  const state: ObjectState = { properties: {}, keysByField: new Map(), setOneofs: new Map() };
  for (const [key, value] of Object.entries(json)) readEntry(reader, type, state, key, value, path);
  return type.create(state.properties);
}

function readEntry(reader: JsonReader, type: protobuf.Type, state: ObjectState, key: string, value: unknown, path: string): void {
  const field = fieldByJsonKey(type, key);
  if (field === undefined) {
    fail(reader, fieldPath(path, key), unknownFieldMessage(type, key));
    return;
  }
  const at = fieldPath(path, field.name);
  const earlierKey = state.keysByField.get(field);
  state.keysByField.set(field, key);
  if (earlierKey !== undefined) {
    fail(reader, at, `set twice (as "${earlierKey}" and "${key}")`);
    return;
  }
  // null (and undefined, from objects built in code) mean "unset", except where null is a value.
  if (value === undefined || (value === null && !acceptsNull({ type: field.type, resolved: field.resolvedType }))) return;
  if (!claimOneof(reader, field, state.setOneofs, at)) return;
  const read = readFieldValue(reader, field, value, at);
  if (read !== undefined) state.properties[field.name] = read;
}

function unknownFieldMessage(type: protobuf.Type, key: string): string {
  if (key === '@type') return `"@type" is only allowed in a google.protobuf.Any, and this is a ${typeLabel(type)}`;
  const fields = type.fieldsArray;
  const suggestion = closestMatch(key, fields.map((field) => [field.name, jsonNameOf(field)] as const));
  const hint = suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`;
  const valid = fields.length === 0 ? '(none)' : fields.map((field) => field.name).join(', ');
  return `unknown field${hint}; valid fields of ${typeLabel(type)}: ${valid}`;
}

/** JSON null means "unset" except for google.protobuf.Value and NullValue, where it is a value. */
function acceptsNull(kind: ValueKind): boolean {
  const name = kind.resolved?.fullName;
  return name === WKT.value || name === '.google.protobuf.NullValue';
}

/** Records that a oneof member is set; false (with an error) when another member already is. */
function claimOneof(reader: JsonReader, field: protobuf.Field, setOneofs: Map<protobuf.OneOf, string>, at: string): boolean {
  const oneof = field.partOf;
  if (oneof === null || oneof === undefined) return true;
  const other = setOneofs.get(oneof);
  if (other === undefined) {
    setOneofs.set(oneof, field.name);
    return true;
  }
  const members = oneof.fieldsArray.map((member) => member.name).join(', ');
  fail(reader, at, `cannot be set together with "${other}": only one of ${members} may be set (oneof ${oneof.name})`);
  return false;
}

function readFieldValue(reader: JsonReader, field: protobuf.Field, json: unknown, path: string): unknown {
  const kind: ValueKind = { type: field.type, resolved: field.resolvedType };
  if (field instanceof protobuf.MapField) return readMap(reader, field, kind, json, path);
  if (field.repeated) return readList(reader, kind, json, path);
  const value = readValue(reader, kind, json, path);
  // Proto3 fields without presence are unset when they hold the default; keep the message canonical.
  if (!hasExplicitPresence(field) && isDefaultScalar(value)) return undefined;
  return value;
}

function readList(reader: JsonReader, kind: ValueKind, json: unknown, path: string): unknown[] | undefined {
  if (!Array.isArray(json)) return fail(reader, path, `expected an array, got ${describeJson(json)}`);
  const items: unknown[] = [];
  json.forEach((item: unknown, index) => {
    const at = indexPath(path, index);
    if (item === null && !acceptsNull(kind)) {
      fail(reader, at, 'null is not allowed in a list');
      return;
    }
    const value = readValue(reader, kind, item, at);
    if (value !== undefined) items.push(value);
  });
  return items;
}

function readMap(
  reader: JsonReader,
  field: protobuf.MapField,
  kind: ValueKind,
  json: unknown,
  path: string,
): Record<string, unknown> | undefined {
  if (!isRecord(json)) return fail(reader, path, `expected an object (map<${field.keyType}, ${field.type}>), got ${describeJson(json)}`);
  const entries: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(json)) {
    const at = keyPath(path, key);
    const mapKey = readMapKey(field.keyType, key);
    if (mapKey === undefined) {
      fail(reader, at, `invalid map key for key type ${field.keyType}`);
      continue;
    }
    if (item === null && !acceptsNull(kind)) {
      fail(reader, at, 'null is not allowed as a map value');
      continue;
    }
    const value = readValue(reader, kind, item, at);
    if (value !== undefined) setEntry(entries, mapKey, value);
  }
  return entries;
}

/** Map keys are JSON strings; protobufjs keys its map objects by the canonical decimal or bool text. */
function readMapKey(keyType: string, key: string): string | undefined {
  if (keyType === 'string') return key;
  if (keyType === 'bool') return key === 'true' || key === 'false' ? key : undefined;
  const result = readScalar(keyType, key);
  if (!result.ok) return undefined;
  return is64BitType(keyType) ? String(BigInt(key.trim())) : String(result.value);
}

/** Reads one (non-repeated) value of the given kind. */
function readValue(reader: JsonReader, kind: ValueKind, json: unknown, path: string): unknown {
  const resolved = kind.resolved;
  if (resolved instanceof protobuf.Type) return readMessage(reader, resolved, json, path);
  if (resolved instanceof protobuf.Enum) return readEnum(reader, resolved, json, path);
  const result = readScalar(kind.type, json);
  return result.ok ? result.value : fail(reader, path, result.message);
}

function readEnum(reader: JsonReader, enumType: protobuf.Enum, json: unknown, path: string): number | undefined {
  if (json === null && fullNameOf(enumType) === '.google.protobuf.NullValue') return 0;
  if (typeof json === 'number' && Number.isInteger(json) && Math.abs(json) < 2 ** 31) return json;
  const names = Object.keys(enumType.values);
  if (typeof json === 'string') {
    const value = enumType.values[json];
    if (value !== undefined) return value;
    const suggestion = closestMatch(json, names.map((name) => [name] as const));
    const hint = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
    return fail(reader, path, `unknown value ${JSON.stringify(json)} for enum ${typeLabel(enumType)}${hint}; valid values: ${names.join(', ')}`);
  }
  return fail(reader, path, `expected an enum name (${names.join(', ')}) or number, got ${describeJson(json)}`);
}
