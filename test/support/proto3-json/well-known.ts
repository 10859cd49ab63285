import protobuf from 'protobufjs';
import { fieldPath, indexPath, keyPath } from '../../../src/protobuf/field-error.ts';
import { fail, type JsonReader, typeLabel } from './reader.ts';
import { isDefaultScalar } from '../../../src/protobuf/proto-json-scalars.ts';
import { describeJson, readScalar } from './scalars.ts';
import { fullNameOf, lookupTypeCached, hasSpecialJson, isRecord, setEntry, toLong, typeForUrl, WKT, WRAPPER_SCALARS } from '../../../src/protobuf/proto-reflect.ts';
import { parseProtoDuration, splitNanos } from '../../../src/util/duration.ts';
import { parseTimestamp } from '../../../src/protobuf/proto-time.ts';
import { closestMatch } from '../../../src/util/suggest.ts';

/** Reading the well-known types that have their own proto3 JSON form. */

type WellKnownResult = protobuf.Message | undefined | 'not-well-known';

export function readWellKnown(reader: JsonReader, type: protobuf.Type, json: unknown, path: string): WellKnownResult {
  const wrapped = WRAPPER_SCALARS.get(fullNameOf(type));
  if (wrapped !== undefined) return readWrapper(reader, type, wrapped, json, path);
  switch (fullNameOf(type)) {
    case WKT.any:
      return readAny(reader, type, json, path);
    case WKT.duration:
      return readTime(reader, type, json, path, parseProtoDuration);
    case WKT.timestamp:
      return readTime(reader, type, json, path, parseTimestamp);
    case WKT.struct:
      return readStruct(reader, json, path);
    case WKT.value:
      return readStructValue(reader, json, path);
    case WKT.listValue:
      return readListValue(reader, json, path);
    case WKT.fieldMask:
      return readFieldMask(reader, type, json, path);
    default:
      return 'not-well-known';
  }
}

function readWrapper(reader: JsonReader, type: protobuf.Type, scalar: string, json: unknown, path: string): WellKnownResult {
  const result = readScalar(scalar, json);
  if (!result.ok) {
    const hint = isRecord(json) ? `; ${typeLabel(type)} is written as a bare value, not an object` : '';
    return fail(reader, path, `${result.message}${hint}`);
  }
  return type.create(isDefaultScalar(result.value) ? {} : { value: result.value });
}

/** Duration `"1.5s"` / Timestamp RFC 3339 strings; the `{seconds, nanos}` object form is accepted too. */
function readTime(
  reader: JsonReader,
  type: protobuf.Type,
  json: unknown,
  path: string,
  parse: (text: string) => bigint | string,
): WellKnownResult {
  if (isRecord(json)) return reader.readObject(reader, type, json, path);
  if (typeof json !== 'string') {
    const example = fullNameOf(type) === WKT.duration ? 'a duration string like "1.5s"' : 'an RFC 3339 timestamp string';
    return fail(reader, path, `expected ${example}, got ${describeJson(json)}`);
  }
  const parsed = parse(json);
  if (typeof parsed === 'string') return fail(reader, path, parsed);
  const { seconds, nanos } = splitNanos(parsed);
  const properties: Record<string, unknown> = {};
  if (seconds !== 0n) properties['seconds'] = toLong(seconds, false);
  if (nanos !== 0) properties['nanos'] = nanos;
  return type.create(properties);
}

function lookup(reader: JsonReader, name: string): protobuf.Type {
  return lookupTypeCached(reader.root, name);
}

function readStruct(reader: JsonReader, json: unknown, path: string): protobuf.Message | undefined {
  if (!isRecord(json)) return fail(reader, path, `expected an object (google.protobuf.Struct), got ${describeJson(json)}`);
  const fields: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(json)) {
    const value = readStructValue(reader, item, keyPath(path, key));
    if (value !== undefined) setEntry(fields, key, value);
  }
  return lookup(reader, WKT.struct).create({ fields });
}

function readListValue(reader: JsonReader, json: unknown, path: string): protobuf.Message | undefined {
  if (!Array.isArray(json)) return fail(reader, path, `expected an array (google.protobuf.ListValue), got ${describeJson(json)}`);
  const values: protobuf.Message[] = [];
  json.forEach((item: unknown, index) => {
    const value = readStructValue(reader, item, indexPath(path, index));
    if (value !== undefined) values.push(value);
  });
  return lookup(reader, WKT.listValue).create({ values });
}

/** google.protobuf.Value's `kind` members by field number (protobufjs' bundled copy names them in camelCase). */
const VALUE_KIND_IDS = { null: 1, number: 2, string: 3, bool: 4, struct: 5, list: 6 } as const;

function valueOfKind(reader: JsonReader, kind: keyof typeof VALUE_KIND_IDS, value: unknown): protobuf.Message {
  const valueType = lookup(reader, WKT.value);
  const name = valueType.fieldsById[VALUE_KIND_IDS[kind]]?.name ?? `${kind}_value`;
  return valueType.create({ [name]: value });
}

/** Any JSON value as a google.protobuf.Value. */
function readStructValue(reader: JsonReader, json: unknown, path: string): protobuf.Message | undefined {
  if (json === null) return valueOfKind(reader, 'null', 0);
  if (typeof json === 'number') return valueOfKind(reader, 'number', json);
  if (typeof json === 'string') return valueOfKind(reader, 'string', json);
  if (typeof json === 'boolean') return valueOfKind(reader, 'bool', json);
  if (Array.isArray(json)) {
    const list = readListValue(reader, json, path);
    return list === undefined ? undefined : valueOfKind(reader, 'list', list);
  }
  const struct = readStruct(reader, json, path);
  return struct === undefined ? undefined : valueOfKind(reader, 'struct', struct);
}

function readFieldMask(reader: JsonReader, type: protobuf.Type, json: unknown, path: string): WellKnownResult {
  if (typeof json !== 'string') return fail(reader, path, `expected a comma-separated string of paths, got ${describeJson(json)}`);
  const paths = json === '' ? [] : json.split(',').map((part) => part.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`));
  return type.create({ paths });
}

/** `{"@type": "type.googleapis.com/x.y.Z", ...fields}`, or `{"@type": ..., "value": ...}` for WKT payloads. */
function readAny(reader: JsonReader, anyType: protobuf.Type, json: unknown, path: string): WellKnownResult {
  if (!isRecord(json)) return fail(reader, path, `expected an object with "@type" (google.protobuf.Any), got ${describeJson(json)}`);
  const typeUrl = json['@type'];
  const typeAt = fieldPath(path, '@type');
  if (typeof typeUrl !== 'string' || typeUrl === '') {
    return fail(reader, typeAt, 'required: a google.protobuf.Any needs "@type": "type.googleapis.com/<message name>"');
  }
  const payloadType = typeForUrl(reader.root, typeUrl);
  if (payloadType === undefined) return fail(reader, typeAt, unknownTypeMessage(reader.root, typeUrl));
  const payload = readAnyPayload(reader, payloadType, json, path);
  if (payload === undefined) return undefined;
  return anyType.create({ type_url: typeUrl, value: payloadType.encode(payload).finish() });
}

function readAnyPayload(
  reader: JsonReader,
  payloadType: protobuf.Type,
  json: Record<string, unknown>,
  path: string,
): protobuf.Message | undefined {
  const rest = Object.fromEntries(Object.entries(json).filter(([key]) => key !== '@type'));
  if (!hasSpecialJson(payloadType)) return reader.readMessage(reader, payloadType, rest, path);
  for (const key of Object.keys(rest)) {
    if (key !== 'value') fail(reader, fieldPath(path, key), `unknown field; an Any holding ${typeLabel(payloadType)} has only "@type" and "value"`);
  }
  return reader.readMessage(reader, payloadType, rest['value'] ?? null, fieldPath(path, 'value'));
}

function unknownTypeMessage(root: protobuf.Root, typeUrl: string): string {
  if (!typeUrl.includes('/')) return `${JSON.stringify(typeUrl)} is not a type URL; expected "type.googleapis.com/<message name>"`;
  const name = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  const simpleName = name.slice(name.lastIndexOf('.') + 1);
  const candidates = similarTypeNames(root, simpleName);
  const suggestion = closestMatch(name, candidates.map((candidate) => [candidate] as const));
  const hint = suggestion === undefined ? '' : `; did you mean "type.googleapis.com/${suggestion}"?`;
  return `unknown type ${JSON.stringify(typeUrl)}: no message ${name} in the loaded protos${hint}`;
}

/** Full names of loaded message types whose simple name is close to `simpleName`. */
function similarTypeNames(root: protobuf.Root, simpleName: string): string[] {
  const names: string[] = [];
  const visit = (namespace: protobuf.NamespaceBase): void => {
    for (const nested of namespace.nestedArray) {
      if (nested instanceof protobuf.Type && closestMatch(simpleName, [[nested.name]]) !== undefined) {
        names.push(typeLabel(nested));
      }
      if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) visit(nested);
    }
  };
  visit(root);
  return names;
}
