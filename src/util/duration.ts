/**
 * Durations in the three forms infermesh reads or writes:
 * - policy text, a number and a unit, optionally compound from the largest unit down, in milliseconds:
 *   "250ms", "5s", "1.5s", "1m", "1m30s", "1h". No bare numbers, signs, spaces or sub-millisecond values;
 * - proto3 JSON for google.protobuf.Duration, "1.500s", as nanosecond bigints;
 * - the google.protobuf.Duration message the Envoy builders write for a number of milliseconds.
 */

import { quote } from '../util/printable.ts';

export const DURATION_EXAMPLES = '250ms, 5s, 1.5s, 1m30s, 1h';
export const MAX_DURATION_MS = 24 * 60 * 60 * 1000;

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
const UNITS_DESCENDING = ['h', 'm', 's', 'ms'];
const PART = /(\d+)(?:\.(\d+))?([a-zA-Zµ]+)/y;

export type DurationResult = { ok: true; ms: number } | { ok: false; message: string };

function fail(text: string, problem: string): DurationResult {
  return { ok: false, message: `${quote(text)} ${problem}; a duration is a number and a unit (ms, s, m, h), e.g. ${DURATION_EXAMPLES}` };
}

function shapeProblem(text: string): string {
  if (text === '') return 'is empty';
  if (/\s/.test(text)) return 'contains spaces';
  if (text.startsWith('-')) return 'is negative';
  if (text.startsWith('+')) return 'has a sign';
  if (/^\d+(\.\d+)?$/.test(text)) return 'has no unit';
  return 'is not a duration';
}

export function parseDuration(text: string): DurationResult {
  let ms = 0;
  let position = 0;
  let lastUnit = -1;
  while (position < text.length) {
    PART.lastIndex = position;
    const match = PART.exec(text);
    if (!match) return fail(text, shapeProblem(text));
    const [whole, integer = '', fraction = '', unit = ''] = match;
    const unitMs = UNIT_MS[unit];
    if (unitMs === undefined) return fail(text, `has unknown unit ${quote(unit)}`);
    const rank = UNITS_DESCENDING.indexOf(unit);
    if (rank <= lastUnit) return fail(text, 'must list units once each, largest first (as in 1m30s)');
    if (integer.length > 9 || fraction.length > 9) return fail(text, 'is too long');
    const fractionMs = fraction === '' ? 0 : (Number(fraction) * unitMs) / 10 ** fraction.length;
    if (!Number.isInteger(fractionMs)) return fail(text, 'is finer than a millisecond');
    ms += Number(integer) * unitMs + fractionMs;
    lastUnit = rank;
    position += whole.length;
  }
  if (position === 0) return fail(text, shapeProblem(text));
  if (ms > MAX_DURATION_MS) return fail(text, 'is longer than the maximum, 24h');
  return { ok: true, ms };
}

/** The shortest compound form: 90000 -> "1m30s", 250 -> "250ms", 0 -> "0s". */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let text = '';
  for (const unit of UNITS_DESCENDING) {
    const size = UNIT_MS[unit] ?? 1;
    const count = Math.floor(rest / size);
    if (count > 0) text += `${count}${unit}`;
    rest -= count * size;
  }
  return text;
}

// google.protobuf.Duration in proto3 JSON.

export const NANOS_PER_SECOND = 1_000_000_000n;
const MAX_PROTO_DURATION_SECONDS = 315_576_000_000n;

export interface SecondsNanos {
  seconds: bigint;
  nanos: number;
}

export function splitNanos(total: bigint): SecondsNanos {
  return { seconds: total / NANOS_PER_SECOND, nanos: Number(total % NANOS_PER_SECOND) };
}

/** 0, 3, 6 or 9 fractional digits, as protoc prints them (also used for timestamps). */
export function fractionDigits(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  if (nanos % 1_000_000 === 0) return `.${digits.slice(0, 3)}`;
  if (nanos % 1_000 === 0) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

/** Up to nine fractional digits as nanoseconds. */
export function fractionNanos(digits: string | undefined): bigint {
  return digits === undefined ? 0n : BigInt(digits.padEnd(9, '0'));
}

/** `1.500s`, `-0.000000001s`, `0s`. */
export function formatProtoDuration(totalNanos: bigint): string {
  const negative = totalNanos < 0n;
  const { seconds, nanos } = splitNanos(negative ? -totalNanos : totalNanos);
  return `${negative ? '-' : ''}${seconds}${fractionDigits(nanos)}s`;
}

/** Parses `"1.5s"`; returns total nanoseconds, or an explanation of what is wrong. */
export function parseProtoDuration(text: string): bigint | string {
  const match = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (match === null) return `expected a duration like "1.5s" or "0.250s", got ${JSON.stringify(text)}`;
  const seconds = BigInt(match[2] ?? '0');
  if (seconds > MAX_PROTO_DURATION_SECONDS) return `duration ${text} is out of range (at most ${MAX_PROTO_DURATION_SECONDS}s)`;
  const total = seconds * NANOS_PER_SECOND + fractionNanos(match[3]);
  return match[1] === '-' ? -total : total;
}

/**
 * Whole milliseconds as a google.protobuf.Duration message. Zero parts are left out: protobufjs encodes every
 * field that is set, and the canonical encoding has no zero fields.
 */
export function durationMessage(ms: number): { seconds?: number; nanos?: number } {
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms % 1000) * 1_000_000;
  return { ...(seconds === 0 ? {} : { seconds }), ...(nanos === 0 ? {} : { nanos }) };
}
