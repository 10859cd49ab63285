/**
 * Leaf schemas whose every failure reads "must be <what is valid>, got <value>": one description per field,
 * used for wrong types, ranges and patterns alike, so no raw zod wording reaches an operator.
 */
import { z } from 'zod';
import { formatDuration, parseDuration, DURATION_EXAMPLES } from '../util/duration.ts';
import { quote } from '../util/printable.ts';
import { nearest } from '../util/suggest.ts';

export const UINT32_MAX = 4_294_967_295;

interface RawIssue {
  code?: string;
  input?: unknown;
}

/** A short, escaped rendering of a user-supplied value: strings quoted, structures named. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return quote(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return typeof value;
}

type Hint = (input: unknown) => string;
const noHint: Hint = () => '';

/** Error function for zod: `required: must be X` or `must be X, got Y<hint>`. */
export function mustBe(valid: string, hint: Hint = noHint) {
  return (issue: RawIssue): string | undefined => {
    if (issue.code === 'unrecognized_keys') return undefined;
    if (issue.input === undefined) return `required: must be ${valid}`;
    return `must be ${valid}, got ${describeValue(issue.input)}${hint(issue.input)}`;
  };
}

const unquoteHint: Hint = (input) =>
  typeof input === 'string' && /^\s*[-+]?\d+(\.\d+)?\s*$/.test(input) ? ' (a string; remove the quotes)' : '';

const quoteHint: Hint = (input) =>
  typeof input === 'number' || typeof input === 'boolean' ? ` (a ${typeof input}; quote it: "${String(input)}")` : '';

/** An integer in [min, max]; `note` explains the unit. Without max, the bound is uint32 (what Envoy stores). */
export function int(min: number, max?: number, note = '') {
  const valid = (max === undefined ? `an integer >= ${min}` : `an integer from ${min} to ${max}`) + note;
  const error = mustBe(valid, unquoteHint);
  const upper = max ?? UINT32_MAX;
  const tooBig = (issue: RawIssue) => `must be at most ${upper}, got ${describeValue(issue.input)}`;
  return z
    .number({ error })
    .int({ error })
    .min(min, { error })
    .max(upper, { error: max === undefined ? tooBig : error });
}

/** A string matching `pattern`, described as `valid`. */
export function text(pattern: RegExp, valid: string) {
  const error = mustBe(valid, quoteHint);
  return z.string({ error }).regex(pattern, { error });
}

/** One of a closed list of strings, suggesting the nearest on a typo. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const didYouMean: Hint = (input) => {
    if (typeof input === 'string' && input.includes(',')) return '; give each value as its own list item, e.g. [a, b]';
    const guess = typeof input === 'string' ? nearest(input, values) : undefined;
    return guess === undefined ? '' : `; did you mean ${JSON.stringify(guess)}?`;
  };
  return z.enum(values, { error: mustBe(`one of ${values.join(', ')}`, didYouMean) });
}

/** A duration string -> milliseconds, > 0 and <= 24h. */
export function duration() {
  const valid = `a duration such as ${DURATION_EXAMPLES}`;
  const unitHint: Hint = (input) => (typeof input === 'number' ? ` (a number; add a unit, e.g. ${input}s or ${input}ms)` : '');
  return z.string({ error: mustBe(valid, unitHint) }).transform((value, ctx) => {
    const parsed = parseDuration(value);
    if (!parsed.ok) {
      ctx.issues.push({ code: 'custom', message: parsed.message, input: value });
      return z.NEVER;
    }
    if (parsed.ms === 0) {
      ctx.issues.push({ code: 'custom', message: `must be longer than ${formatDuration(0)}, got ${quote(value)}`, input: value });
      return z.NEVER;
    }
    return parsed.ms;
  });
}

/** A strict mapping; unknown keys are reported (with suggestions) by the issue translator. */
export function mapping<S extends z.ZodRawShape>(shape: S, note = '') {
  return z.strictObject(shape, { error: mustBe(`a mapping with fields ${Object.keys(shape).join(', ')}${note}`) });
}

/** A list of `item`s; `empty` is the message when it must not be empty. */
export function list<T extends z.ZodType>(item: T, what: string, empty?: string) {
  const items = z.array(item, { error: mustBe(`a list of ${what}`) });
  return empty === undefined ? items : items.min(1, { error: () => empty });
}
