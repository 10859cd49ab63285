import protobuf from 'protobufjs';
import { type FieldError, fieldPath, indexPath, keyPath } from './field-error.ts';
import { flag, list, type Rules, sub } from './pgv-rule-access.ts';
import { compileOrdered, compileScalar, type ScalarCheck } from './pgv-rules.ts';
import { plural } from './pgv-strings.ts';
import { fullNameOf, hasSpecialJson, is64BitType, isRecord, isUnsignedType, messageTypeOf, readField, toBigInt, toBytes, typeForUrl, WKT, WRAPPER_SCALARS } from './proto-reflect.ts';
import { formatProtoDuration } from '../util/duration.ts';
import { formatTimestamp, messageNanos } from './proto-time.ts';

/**
 * Per-message-type validation plans: each field's `(validate.rules)` compiled once into a check that
 * walks the field's value (recursing into sub-messages, lists, maps and Any payloads). Plans are cached
 * per protobufjs Type and compiled lazily, so recursive message types are fine.
 */

export interface ValidationContext {
  root: protobuf.Root;
  errors: FieldError[];
}

/** Checks one field value (undefined = unset) found at `path`, recording failures. */
type FieldCheck = (value: unknown, path: string, context: ValidationContext) => void;

interface FieldPlan {
  field: protobuf.Field;
  check: FieldCheck;
  /** Only a required message field has anything to check when unset; others are skipped then. */
  checksUnset: boolean;
}

interface TypePlan {
  disabled: boolean;
  fields: FieldPlan[];
  requiredOneofs: protobuf.OneOf[];
}

/** The PGV options the plan reads, by where they sit in a .proto (field rules: see IMPLEMENTED_RULES). */
export const IMPLEMENTED_OPTIONS = {
  message: ['(validate.disabled)', '(validate.ignored)'],
  oneof: ['(validate.required)'],
  field: ['(validate.rules)'],
} as const;

const plans = new WeakMap<protobuf.Type, TypePlan>();

/** Validates `message` (a protobufjs message or an object of the same shape) of `type` at `path`. */
export function validateType(context: ValidationContext, type: protobuf.Type, message: unknown, path: string): void {
  const plan = planFor(type);
  if (plan.disabled || !isRecord(message)) return;
  for (const { field, check, checksUnset } of plan.fields) {
    const value = readField(message, field);
    if (value !== undefined || checksUnset) check(value, fieldPath(path, field.name), context);
  }
  for (const oneof of plan.requiredOneofs) {
    if (oneof.fieldsArray.some((member) => readField(message, member) !== undefined)) continue;
    const members = oneof.fieldsArray.map((member) => member.name).join(', ');
    context.errors.push({ path, message: `one of ${members} must be set (oneof ${oneof.name})` });
  }
}

function planFor(type: protobuf.Type): TypePlan {
  let plan = plans.get(type);
  if (plan === undefined) {
    plan = compilePlan(type);
    plans.set(type, plan);
  }
  return plan;
}

function compilePlan(type: protobuf.Type): TypePlan {
  const options = type.options ?? {};
  const disabled = options['(validate.disabled)'] === true || options['(validate.ignored)'] === true;
  const fields: FieldPlan[] = [];
  for (const field of type.fieldsArray) {
    const rules = fieldRules(field);
    const check = compileField(field, rules);
    const oneofMember = field.partOf !== null && field.partOf !== undefined;
    const checksUnset = !field.repeated && !field.map && !oneofMember && messageTypeOf(field) !== undefined && isRequired(rules);
    if (check !== undefined) fields.push({ field, check, checksUnset });
  }
  const requiredOneofs = type.oneofsArray.filter((oneof) => oneof.options?.['(validate.required)'] === true);
  return { disabled, fields, requiredOneofs };
}

/** The field's `(validate.rules)`, merged if the .proto spells them in several options. */
function fieldRules(field: protobuf.Field): Rules | undefined {
  const parsed: unknown = field.parsedOptions;
  if (!Array.isArray(parsed)) return undefined;
  let merged: Record<string, unknown> | undefined;
  for (const option of parsed) {
    const rules: unknown = isRecord(option) ? option['(validate.rules)'] : undefined;
    if (isRecord(rules)) merged = merged === undefined ? rules : deepMerge(merged, rules);
  }
  return merged;
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const existing = merged[key];
    merged[key] = isRecord(existing) && isRecord(value) ? deepMerge(existing, value) : value;
  }
  return merged;
}

function compileField(field: protobuf.Field, rules: Rules | undefined): FieldCheck | undefined {
  if (field instanceof protobuf.MapField) return compileMap(field, sub(rules, 'map'));
  if (field.repeated) return compileRepeated(field, sub(rules, 'repeated'));
  const check = compileValue(field.type, field.resolvedType, rules);
  if (check === undefined || field.partOf === null || field.partOf === undefined) return check;
  // A oneof member's rules (even message.required) apply only when that member is the one set.
  return (value, path, context) => {
    if (value !== undefined) check(value, path, context);
  };
}

function report(context: ValidationContext, path: string, failure: string | undefined): void {
  if (failure !== undefined) context.errors.push({ path, message: failure });
}

/** The check of one (non-repeated) value: a scalar, enum or message of the given type. */
function compileValue(type: string, resolved: protobuf.Type | protobuf.Enum | null, rules: Rules | undefined): FieldCheck | undefined {
  if (resolved instanceof protobuf.Type) return compileMessage(resolved, rules);
  const check = compileScalar(type, resolved, rules);
  if (check === undefined) return undefined;
  return (value, path, context) => {
    if (value !== undefined) report(context, path, check(value));
  };
}

/** message/duration/timestamp/any.required: the field must be set. */
function isRequired(rules: Rules | undefined): boolean {
  return ['message', 'duration', 'timestamp', 'any'].some((kind) => flag(sub(rules, kind), 'required'));
}

function compileMessage(type: protobuf.Type, rules: Rules | undefined): FieldCheck | undefined {
  const required = isRequired(rules);
  const contents = compileMessageContents(type, rules);
  if (!required && contents === undefined) return undefined;
  return (value, path, context) => {
    if (value === undefined || value === null) {
      if (required) context.errors.push({ path, message: 'required field not set' });
      return;
    }
    contents?.(value, path, context);
  };
}

function compileMessageContents(type: protobuf.Type, rules: Rules | undefined): FieldCheck | undefined {
  const skip = flag(sub(rules, 'message'), 'skip');
  const wrapped = WRAPPER_SCALARS.get(fullNameOf(type));
  if (wrapped !== undefined) {
    const valueField = type.fieldsById[1];
    return onScalar(compileScalar(wrapped, null, rules), (value) => (isRecord(value) && valueField !== undefined ? readField(value, valueField) : undefined));
  }
  switch (fullNameOf(type)) {
    case WKT.duration:
      return onScalar(compileTime(sub(rules, 'duration'), formatProtoDuration, 'duration'), (value) => value);
    case WKT.timestamp:
      return compileTimestamp(sub(rules, 'timestamp'));
    case WKT.any:
      return compileAny(sub(rules, 'any'), skip);
    default:
      // Other google.protobuf types (Struct, Empty, ...) carry no PGV rules; do not walk them.
      if (skip || fullNameOf(type).startsWith('.google.protobuf.')) return undefined;
      return (value, path, context) => validateType(context, type, value, path);
  }
}

function onScalar(check: ScalarCheck | undefined, extract: (value: unknown) => unknown): FieldCheck | undefined {
  if (check === undefined) return undefined;
  return (value, path, context) => report(context, path, check(extract(value)));
}

/** Duration/Timestamp const/lt/lte/gt/gte/in/not_in, compared in nanoseconds. */
function compileTime(rules: Rules | undefined, show: (nanos: bigint) => string, noun: string): ScalarCheck | undefined {
  if (rules === undefined) return undefined;
  const convert = (value: unknown): bigint | undefined => (isRecord(value) ? messageNanos(value) : undefined);
  const domain = { convert, show: (value: number | bigint) => show(BigInt(value)) };
  return compileOrdered(rules, domain, noun);
}

function compileTimestamp(rules: Rules | undefined): FieldCheck | undefined {
  const ordered = compileTime(rules, formatTimestamp, 'timestamp');
  const relative = compileRelativeTime(rules);
  if (ordered === undefined && relative === undefined) return undefined;
  return (value, path, context) => report(context, path, ordered?.(value) ?? relative?.(messageNanos(value)));
}

/** lt_now / gt_now / within, evaluated at validation time. */
function compileRelativeTime(rules: Rules | undefined): ((nanos: bigint) => string | undefined) | undefined {
  const ltNow = flag(rules, 'lt_now');
  const gtNow = flag(rules, 'gt_now');
  const within = sub(rules, 'within');
  if (!ltNow && !gtNow && within === undefined) return undefined;
  const windowNanos = within === undefined ? undefined : messageNanos(within);
  return (nanos) => {
    const now = BigInt(Date.now()) * 1_000_000n;
    if (ltNow && nanos >= now) return `timestamp ${formatTimestamp(nanos)} must be in the past`;
    if (gtNow && nanos <= now) return `timestamp ${formatTimestamp(nanos)} must be in the future`;
    const distance = nanos > now ? nanos - now : now - nanos;
    if (windowNanos !== undefined && distance > windowNanos) {
      return `timestamp ${formatTimestamp(nanos)} must be within ${formatProtoDuration(windowNanos)} of now`;
    }
    return undefined;
  };
}

/** any.in / any.not_in on the type URL, then the payload's own rules when its type is loaded. */
function compileAny(rules: Rules | undefined, skip: boolean): FieldCheck {
  const allowed = list(rules, 'in').map(String);
  const denied = list(rules, 'not_in').map(String);
  return (value, path, context) => {
    if (!isRecord(value)) return;
    const typeUrl = typeof value['type_url'] === 'string' ? value['type_url'] : '';
    if (allowed.length > 0 && !allowed.includes(typeUrl)) {
      return report(context, path, `type ${JSON.stringify(typeUrl)} is not allowed here; must be one of ${allowed.join(', ')}`);
    }
    if (denied.includes(typeUrl)) return report(context, path, `type ${JSON.stringify(typeUrl)} is not allowed here`);
    const payload = skip ? undefined : payloadFor(context.root, typeUrl);
    if (payload !== undefined) validateAnyPayload(context, payload, value, path);
  };
}

interface AnyPayload {
  type: protobuf.Type;
  /** In JSON an Any's payload fields sit beside "@type" (or under "value" for well-known types). */
  inValue: boolean;
}

/** Type URL -> payload type, resolved once per Root (a protobufjs lookup and two fullName walks). */
const payloads = new WeakMap<protobuf.Root, Map<string, AnyPayload | undefined>>();

function payloadFor(root: protobuf.Root, typeUrl: string): AnyPayload | undefined {
  let byUrl = payloads.get(root);
  if (byUrl === undefined) {
    byUrl = new Map();
    payloads.set(root, byUrl);
  }
  if (byUrl.has(typeUrl)) return byUrl.get(typeUrl);
  const type = typeForUrl(root, typeUrl);
  const payload = type === undefined ? undefined : { type, inValue: hasSpecialJson(type) };
  byUrl.set(typeUrl, payload);
  return payload;
}

function validateAnyPayload(context: ValidationContext, { type, inValue }: AnyPayload, any: Record<string, unknown>, path: string): void {
  let payload: protobuf.Message;
  try {
    payload = type.decode(toBytes(any['value']) ?? new Uint8Array());
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return report(context, path, `payload does not decode as ${fullNameOf(type).slice(1)}: ${reason}`);
  }
  validateType(context, type, payload, inValue ? fieldPath(path, 'value') : path);
}

function compileRepeated(field: protobuf.Field, rules: Rules | undefined): FieldCheck | undefined {
  const item = compileValue(field.type, field.resolvedType, sub(rules, 'items'));
  const count = compileCount(rules, 'min_items', 'max_items', 'item');
  const unique = flag(rules, 'unique') && messageTypeOf(field) === undefined;
  const ignoreEmpty = flag(rules, 'ignore_empty');
  if (item === undefined && count === undefined && !unique) return undefined;
  return (value, path, context) => {
    const items: unknown[] = Array.isArray(value) ? value : [];
    if (ignoreEmpty && items.length === 0) return;
    report(context, path, count?.(items.length));
    if (unique) reportDuplicates(items, path, context);
    if (item !== undefined) items.forEach((element, index) => item(element, indexPath(path, index), context));
  };
}

function reportDuplicates(items: unknown[], path: string, context: ValidationContext): void {
  const seen = new Map<string, number>();
  items.forEach((element, index) => {
    const key = uniqueKey(element);
    const first = seen.get(key);
    if (first === undefined) seen.set(key, index);
    else report(context, indexPath(path, index), `items must be unique; this repeats item [${first}]`);
  });
}

function uniqueKey(value: unknown): string {
  if (value instanceof Uint8Array) return `bytes:${Buffer.from(value).toString('base64')}`;
  const big = typeof value === 'object' ? toBigInt(value) : undefined;
  return big === undefined ? `${typeof value}:${String(value)}` : `number:${big}`;
}

function compileCount(rules: Rules | undefined, minKey: string, maxKey: string, noun: string): ScalarCheck | undefined {
  const min = rules?.[minKey];
  const max = rules?.[maxKey];
  if (typeof min !== 'number' && typeof max !== 'number') return undefined;
  return (value) => {
    const n = Number(value);
    if (typeof min === 'number' && n < min) return `must have at least ${min} ${plural(min, noun)} (got ${n})`;
    if (typeof max === 'number' && n > max) return `must have at most ${max} ${plural(max, noun)} (got ${n})`;
    return undefined;
  };
}

function compileMap(field: protobuf.MapField, rules: Rules | undefined): FieldCheck | undefined {
  const key = compileScalar(field.keyType, null, sub(rules, 'keys'));
  const value = compileValue(field.type, field.resolvedType, sub(rules, 'values'));
  const count = compileCount(rules, 'min_pairs', 'max_pairs', 'entry');
  const ignoreEmpty = flag(rules, 'ignore_empty');
  if (key === undefined && value === undefined && count === undefined) return undefined;
  return (map, path, context) => {
    const entries = Object.entries(isRecord(map) ? map : {});
    if (ignoreEmpty && entries.length === 0) return;
    report(context, path, count?.(entries.length));
    for (const [entryKey, entryValue] of entries) {
      const keyValue = mapKeyValue(field.keyType, entryKey);
      const at = keyPath(path, typeof keyValue === 'bigint' ? String(keyValue) : entryKey);
      const keyFailure = key?.(keyValue);
      if (keyFailure !== undefined) report(context, at, `key ${keyFailure}`);
      value?.(entryValue, at, context);
    }
  };
}

/**
 * protobufjs stores map keys as strings; rules compare them as their proto type. A decoded message keys a
 * 64-bit map by the 8-character hash of the Long (protobufjs' longToHash), a built one by its decimal
 * string; a hash made only of ASCII digits would be read as decimal, which no realistic key is.
 */
function mapKeyValue(keyType: string, key: string): unknown {
  if (keyType === 'string') return key;
  if (keyType === 'bool') return key === 'true';
  const decimal = toBigInt(key);
  if (decimal !== undefined || !is64BitType(keyType) || key.length !== 8) return decimal ?? key;
  return toBigInt(protobuf.util.LongBits.fromHash(key).toLong(isUnsignedType(keyType)));
}
