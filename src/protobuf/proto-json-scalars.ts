import { is64BitType, isUnsignedType, toBigInt, toBytes } from './proto-reflect.ts';

/** Proto3 JSON for scalar field types: canonical printing (strict parsing is test/support/proto3-json/scalars.ts). */

/** The proto3 default value test for a scalar (or enum number) in protobufjs' representation. */
export function isDefaultScalar(value: unknown): boolean {
  if (value === undefined || value === null || value === 0 || value === '' || value === false) return true;
  if (value instanceof Uint8Array || Array.isArray(value)) return value.length === 0;
  return toBigInt(value) === 0n;
}

/** The shortest decimal that reads back as the same float32: 0.1, not 0.10000000149011612. */
function shortestFloat32(value: number): number {
  for (let precision = 1; precision < 10; precision++) {
    const candidate = Number(value.toPrecision(precision));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

function writeFloating(type: string, value: number): unknown {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return type === 'float' ? shortestFloat32(value) : value;
}

function writeInt64(type: string, value: unknown): string {
  const big = toBigInt(value) ?? 0n;
  return (isUnsignedType(type) ? BigInt.asUintN(64, big) : BigInt.asIntN(64, big)).toString();
}

/** The canonical proto3 JSON of a scalar value: 64-bit integers as strings, bytes as base64. */
export function writeScalar(type: string, value: unknown): unknown {
  if (is64BitType(type)) return writeInt64(type, value);
  if ((type === 'double' || type === 'float') && typeof value === 'number') return writeFloating(type, value);
  if (type === 'bytes') return Buffer.from(toBytes(value) ?? new Uint8Array()).toString('base64');
  return value;
}
