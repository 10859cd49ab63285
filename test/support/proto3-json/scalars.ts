import { is64BitType, isUnsignedType, toLong } from '../../../src/protobuf/proto-reflect.ts';

/** Proto3 JSON for scalar field types: strict parsing. */

export type ScalarResult = { ok: true; value: unknown } | { ok: false; message: string };

const INT32_RANGE: Readonly<Record<string, readonly [number, number]>> = {
  int32: [-2_147_483_648, 2_147_483_647],
  sint32: [-2_147_483_648, 2_147_483_647],
  sfixed32: [-2_147_483_648, 2_147_483_647],
  uint32: [0, 4_294_967_295],
  fixed32: [0, 4_294_967_295],
};

const MAX_FLOAT = 3.4028234663852886e38;

/** A short description of a JSON value for error messages: `string "abc"`, `an object`. */
export function describeJson(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

function fail(expected: string, json: unknown): ScalarResult {
  return { ok: false, message: `expected ${expected}, got ${describeJson(json)}` };
}

/** An integer from a JSON number or decimal string (proto3 JSON accepts both for every integer type). */
function jsonInteger(json: unknown): bigint | undefined {
  if (typeof json === 'number') return Number.isInteger(json) ? BigInt(json) : undefined;
  if (typeof json === 'string') return /^-?\d+$/.test(json.trim()) ? BigInt(json.trim()) : undefined;
  return undefined;
}

function readInt32(type: string, json: unknown, [min, max]: readonly [number, number]): ScalarResult {
  const value = jsonInteger(json);
  if (value === undefined || value < BigInt(min) || value > BigInt(max)) {
    return fail(`an integer in [${min}, ${max}] (${type})`, json);
  }
  return { ok: true, value: Number(value) };
}

function readInt64(type: string, json: unknown): ScalarResult {
  const value = jsonInteger(json);
  const unsigned = isUnsignedType(type);
  const [min, max] = unsigned ? [0n, 2n ** 64n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
  if (value === undefined || value < min || value > max) {
    return fail(`an integer in [${min}, ${max}] as a string or number (${type})`, json);
  }
  return { ok: true, value: toLong(value, unsigned) };
}

const SPECIAL_FLOATS: Readonly<Record<string, number>> = {
  NaN: Number.NaN,
  Infinity: Number.POSITIVE_INFINITY,
  '-Infinity': Number.NEGATIVE_INFINITY,
};

function readFloating(type: string, json: unknown): ScalarResult {
  let value: number | undefined;
  if (typeof json === 'number') value = json;
  else if (typeof json === 'string') {
    value = SPECIAL_FLOATS[json] ?? (json.trim() !== '' && Number.isFinite(Number(json)) ? Number(json) : undefined);
  }
  if (value === undefined) return fail(`a number (${type})`, json);
  if (type === 'float' && Number.isFinite(value) && Math.abs(value) > MAX_FLOAT) {
    return fail('a number within float range', json);
  }
  return { ok: true, value };
}

const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

function readBytes(json: unknown): ScalarResult {
  if (typeof json !== 'string' || !BASE64_RE.test(json) || json.replace(/=+$/, '').length % 4 === 1) {
    return fail('a base64 string (bytes)', json);
  }
  return { ok: true, value: Buffer.from(json, 'base64') };
}

/** Parses the JSON value of a scalar field of proto type `type` into protobufjs' representation. */
export function readScalar(type: string, json: unknown): ScalarResult {
  const int32Range = INT32_RANGE[type];
  if (int32Range !== undefined) return readInt32(type, json, int32Range);
  if (is64BitType(type)) return readInt64(type, json);
  switch (type) {
    case 'double':
    case 'float':
      return readFloating(type, json);
    case 'bool':
      return typeof json === 'boolean' ? { ok: true, value: json } : fail('true or false', json);
    case 'string':
      return typeof json === 'string' ? { ok: true, value: json } : fail('a string', json);
    case 'bytes':
      return readBytes(json);
    default:
      return { ok: false, message: `unsupported scalar type ${type}` };
  }
}
