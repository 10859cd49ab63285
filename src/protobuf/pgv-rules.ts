import protobuf from 'protobufjs';
import { compileString, plural } from './pgv-strings.ts';
import { flag, list, type Rules, sub } from './pgv-rule-access.ts';
import { toBigInt, toBytes } from './proto-reflect.ts';

/**
 * Compiles protoc-gen-validate scalar rules (`(validate.rules).<kind>`) into checks. A check returns the
 * first failure as a message ("value 0 must be greater than 0"), or undefined when the value is valid.
 */

const ORDERED = ['const', 'lt', 'lte', 'gt', 'gte', 'in', 'not_in'] as const;
const NUMERIC = [...ORDERED, 'ignore_empty'] as const;

/**
 * Every `(validate.rules).<kind>.<rule>` the validator enforces, by kind: what the compilers here and in
 * pgv-plan.ts / pgv-strings.ts read. `repeated.items`, `map.keys` and `map.values` hold nested rules.
 * `map.no_sparse` needs no check: a proto3 map cannot hold an unset message value.
 * test/protobuf/pgv-rules-coverage.test.ts proves the loaded Envoy protos use nothing else.
 */
export const IMPLEMENTED_RULES: Readonly<Record<string, readonly string[]>> = {
  float: NUMERIC, double: NUMERIC, int32: NUMERIC, int64: NUMERIC, uint32: NUMERIC, uint64: NUMERIC,
  sint32: NUMERIC, sint64: NUMERIC, fixed32: NUMERIC, fixed64: NUMERIC, sfixed32: NUMERIC, sfixed64: NUMERIC,
  bool: ['const'],
  string: [
    'const', 'len', 'min_len', 'max_len', 'len_bytes', 'min_bytes', 'max_bytes', 'pattern', 'prefix', 'suffix',
    'contains', 'not_contains', 'in', 'not_in', 'email', 'hostname', 'ip', 'ipv4', 'ipv6', 'uri', 'uri_ref',
    'address', 'uuid', 'well_known_regex', 'strict', 'ignore_empty',
  ],
  bytes: ['const', 'len', 'min_len', 'max_len', 'pattern', 'prefix', 'suffix', 'contains', 'in', 'not_in', 'ip', 'ipv4', 'ipv6', 'ignore_empty'],
  enum: ['const', 'defined_only', 'in', 'not_in'],
  message: ['skip', 'required'],
  repeated: ['min_items', 'max_items', 'unique', 'items', 'ignore_empty'],
  map: ['min_pairs', 'max_pairs', 'no_sparse', 'keys', 'values', 'ignore_empty'],
  any: ['required', 'in', 'not_in'],
  duration: ['required', ...ORDERED],
  timestamp: ['required', 'const', 'lt', 'lte', 'gt', 'gte', 'lt_now', 'gt_now', 'within'],
};

/** The `well_known_regex` values pgv-strings.ts implements (UNKNOWN, the default, checks nothing). */
export const IMPLEMENTED_WELL_KNOWN_REGEXES: readonly string[] = ['UNKNOWN', 'HTTP_HEADER_NAME', 'HTTP_HEADER_VALUE'];

export type ScalarCheck = (value: unknown) => string | undefined;

/** Runs checks in order and returns the first failure. */
export function firstFailure<T>(checks: ReadonlyArray<(value: T) => string | undefined>, value: T): string | undefined {
  for (const check of checks) {
    const failure = check(value);
    if (failure !== undefined) return failure;
  }
  return undefined;
}

type Comparable = number | bigint;

interface Bound {
  value: Comparable;
  inclusive: boolean;
}

export interface OrderedDomain {
  /** Converts both rule values and field values; undefined when not comparable. */
  convert: (value: unknown) => Comparable | undefined;
  show: (value: Comparable) => string;
}

function bound(rules: Rules, domain: OrderedDomain, exclusiveKey: string, inclusiveKey: string): Bound | undefined {
  if (rules[exclusiveKey] !== undefined) {
    const value = domain.convert(rules[exclusiveKey]);
    return value === undefined ? undefined : { value, inclusive: false };
  }
  if (rules[inclusiveKey] === undefined) return undefined;
  const value = domain.convert(rules[inclusiveKey]);
  return value === undefined ? undefined : { value, inclusive: true };
}

function rangeCheck(rules: Rules, domain: OrderedDomain): ((value: Comparable) => string | undefined) | undefined {
  const lower = bound(rules, domain, 'gt', 'gte');
  const upper = bound(rules, domain, 'lt', 'lte');
  const above = (value: Comparable, b: Bound): boolean => (b.inclusive ? value >= b.value : value > b.value);
  const below = (value: Comparable, b: Bound): boolean => (b.inclusive ? value <= b.value : value < b.value);
  const greater = (b: Bound): string => `greater than ${b.inclusive ? 'or equal to ' : ''}${domain.show(b.value)}`;
  const less = (b: Bound): string => `less than ${b.inclusive ? 'or equal to ' : ''}${domain.show(b.value)}`;
  if (lower !== undefined && upper !== undefined) {
    // PGV: when the lower bound exceeds the upper one the range is reversed (an excluded middle).
    if (lower.value > upper.value) {
      return (value) => (above(value, lower) || below(value, upper) ? undefined : `must be ${less(upper)} or ${greater(lower)}`);
    }
    const range = `${lower.inclusive ? '[' : '('}${domain.show(lower.value)}, ${domain.show(upper.value)}${upper.inclusive ? ']' : ')'}`;
    return (value) => (above(value, lower) && below(value, upper) ? undefined : `must be in range ${range}`);
  }
  if (lower !== undefined) return (value) => (above(value, lower) ? undefined : `must be ${greater(lower)}`);
  if (upper !== undefined) return (value) => (below(value, upper) ? undefined : `must be ${less(upper)}`);
  return undefined;
}

/** const / lt / lte / gt / gte / in / not_in over numbers, durations or timestamps. */
export function compileOrdered(rules: Rules, domain: OrderedDomain, noun = 'value'): ScalarCheck {
  const checks: ((value: Comparable) => string | undefined)[] = [];
  const constant = rules['const'] === undefined ? undefined : domain.convert(rules['const']);
  if (constant !== undefined) checks.push((value) => (value === constant ? undefined : `must equal ${domain.show(constant)}`));
  const range = rangeCheck(rules, domain);
  if (range !== undefined) checks.push(range);
  const allowed = convertAll(list(rules, 'in'), domain);
  if (allowed.length > 0) {
    checks.push((value) => (allowed.includes(value) ? undefined : `must be one of ${allowed.map(domain.show).join(', ')}`));
  }
  const denied = convertAll(list(rules, 'not_in'), domain);
  if (denied.length > 0) {
    checks.push((value) => (denied.includes(value) ? `must not be one of ${denied.map(domain.show).join(', ')}` : undefined));
  }
  const ignoreEmpty = flag(rules, 'ignore_empty');
  return (raw) => {
    const value = domain.convert(raw);
    if (value === undefined || (ignoreEmpty && (value === 0 || value === 0n))) return undefined;
    const failure = firstFailure(checks, value);
    return failure === undefined ? undefined : `${noun} ${domain.show(value)} ${failure}`;
  };
}

function convertAll(values: unknown[], domain: OrderedDomain): Comparable[] {
  return values.map(domain.convert).filter((value): value is Comparable => value !== undefined);
}

const NUMERIC_KINDS = ['float', 'double', 'int32', 'int64', 'uint32', 'uint64', 'sint32', 'sint64', 'fixed32', 'fixed64', 'sfixed32', 'sfixed64'];

function numericDomain(kind: string): OrderedDomain {
  if (kind.endsWith('64') && kind !== 'double') return { convert: toBigInt, show: String };
  const convert = (value: unknown): number | undefined => {
    if (typeof value === 'number') return value;
    const big = toBigInt(value);
    return big === undefined ? undefined : Number(big);
  };
  if (kind !== 'float') return { convert, show: String };
  // A float field holds a float32 and PGV compares it with the rule's float32: round both the same way.
  const toFloat32 = (value: unknown): number | undefined => {
    const number = convert(value);
    return number === undefined ? undefined : Math.fround(number);
  };
  return { convert: toFloat32, show: (value) => String(Number(Number(value).toPrecision(7))) };
}

function compileBool(rules: Rules): ScalarCheck | undefined {
  const expected = rules['const'];
  if (typeof expected !== 'boolean') return undefined;
  return (value) => (value === expected ? undefined : `must be ${String(expected)}`);
}

function compileEnum(enumType: protobuf.Enum, rules: Rules): ScalarCheck {
  const toNumber = (value: unknown): number | undefined =>
    typeof value === 'number' ? value : typeof value === 'string' ? enumType.values[value] : undefined;
  const show = (value: Comparable): string => enumType.valuesById[Number(value)] ?? String(value);
  const ordered = compileOrdered(rules, { convert: toNumber, show });
  const definedOnly = flag(rules, 'defined_only');
  const defined = Object.keys(enumType.values).join(', ');
  return (raw) => {
    const value = toNumber(raw);
    if (value === undefined) return undefined;
    if (definedOnly && enumType.valuesById[value] === undefined) {
      return `value ${value} is not defined in enum ${enumType.name}; valid values: ${defined}`;
    }
    return ordered(value);
  };
}

function ruleBytes(value: unknown): Buffer | undefined {
  return typeof value === 'string' ? Buffer.from(value, 'latin1') : value instanceof Uint8Array ? Buffer.from(value) : undefined;
}

function compileBytes(rules: Rules): ScalarCheck {
  const checks: ((bytes: Buffer) => string | undefined)[] = [];
  const size = (key: string, test: (length: number, limit: number) => boolean, words: string): void => {
    const limit = rules[key];
    if (typeof limit !== 'number') return;
    checks.push((bytes) => (test(bytes.length, limit) ? undefined : `must be ${words} ${limit} ${plural(limit, 'byte')} (got ${bytes.length})`));
  };
  size('len', (length, limit) => length === limit, 'exactly');
  size('min_len', (length, limit) => length >= limit, 'at least');
  size('max_len', (length, limit) => length <= limit, 'at most');
  const affix = (key: string, test: (bytes: Buffer, part: Buffer) => boolean, words: string): void => {
    const part = ruleBytes(rules[key]);
    if (part !== undefined) checks.push((bytes) => (test(bytes, part) ? undefined : `must ${words} 0x${part.toString('hex')}`));
  };
  affix('const', (bytes, part) => bytes.equals(part), 'equal');
  affix('prefix', (bytes, part) => bytes.subarray(0, part.length).equals(part), 'start with');
  affix('suffix', (bytes, part) => bytes.length >= part.length && bytes.subarray(bytes.length - part.length).equals(part), 'end with');
  affix('contains', (bytes, part) => bytes.includes(part), 'contain');
  const allowed = list(rules, 'in').map(ruleBytes).filter((part) => part !== undefined);
  if (allowed.length > 0) checks.push((bytes) => (allowed.some((part) => part.equals(bytes)) ? undefined : 'must be one of the allowed values'));
  const denied = list(rules, 'not_in').map(ruleBytes).filter((part) => part !== undefined);
  if (denied.length > 0) checks.push((bytes) => (denied.some((part) => part.equals(bytes)) ? 'must not be one of the denied values' : undefined));
  if (typeof rules['pattern'] === 'string') {
    const pattern = new RegExp(rules['pattern'], 'u');
    checks.push((bytes) => (pattern.test(bytes.toString('utf8')) ? undefined : `must match the pattern ${String(pattern)}`));
  }
  const ipLengths = flag(rules, 'ip') ? [4, 16] : flag(rules, 'ipv4') ? [4] : flag(rules, 'ipv6') ? [16] : [];
  if (ipLengths.length > 0) {
    checks.push((bytes) => (ipLengths.includes(bytes.length) ? undefined : `must be ${ipLengths.join(' or ')} bytes of an IP address`));
  }
  const ignoreEmpty = flag(rules, 'ignore_empty');
  return (value) => {
    const bytes = toBytes(value);
    if (bytes === undefined || (ignoreEmpty && bytes.length === 0)) return undefined;
    return firstFailure(checks, Buffer.from(bytes));
  };
}

/**
 * The check for a scalar (or enum, or wrapper payload) of proto type `type` under `rules`, or undefined
 * when no rule applies to it.
 */
export function compileScalar(type: string, resolved: unknown, rules: Rules | undefined): ScalarCheck | undefined {
  if (rules === undefined) return undefined;
  if (resolved instanceof protobuf.Enum) {
    const enumRules = sub(rules, 'enum');
    return enumRules === undefined ? undefined : compileEnum(resolved, enumRules);
  }
  for (const kind of NUMERIC_KINDS) {
    const numeric = sub(rules, kind);
    if (numeric !== undefined) return compileOrdered(numeric, numericDomain(kind));
  }
  const stringRules = sub(rules, 'string');
  if (stringRules !== undefined && type === 'string') return compileString(stringRules);
  const bytesRules = sub(rules, 'bytes');
  if (bytesRules !== undefined && type === 'bytes') return compileBytes(bytesRules);
  const boolRules = sub(rules, 'bool');
  return boolRules === undefined ? undefined : compileBool(boolRules);
}
