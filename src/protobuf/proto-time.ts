import { isRecord, toBigInt } from './proto-reflect.ts';

/** google.protobuf.Duration and Timestamp in their proto3 JSON forms, as nanosecond bigints. */

const NANOS_PER_SECOND = 1_000_000_000n;
const MAX_DURATION_SECONDS = 315_576_000_000n;
const MIN_TIMESTAMP_SECONDS = -62_135_596_800n; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z

export interface SecondsNanos {
  seconds: bigint;
  nanos: number;
}

/** Total nanoseconds of a `{seconds, nanos}` message (Long, number or string seconds; missing = 0). */
export function messageNanos(message: unknown): bigint {
  if (!isRecord(message)) return 0n;
  const seconds = toBigInt(message['seconds']) ?? 0n;
  const nanos = typeof message['nanos'] === 'number' ? message['nanos'] : 0;
  return seconds * NANOS_PER_SECOND + BigInt(nanos);
}

export function splitNanos(total: bigint): SecondsNanos {
  return { seconds: total / NANOS_PER_SECOND, nanos: Number(total % NANOS_PER_SECOND) };
}

/** 0, 3, 6 or 9 fractional digits, as protoc prints them. */
function fraction(nanos: number): string {
  if (nanos === 0) return '';
  const digits = String(nanos).padStart(9, '0');
  if (nanos % 1_000_000 === 0) return `.${digits.slice(0, 3)}`;
  if (nanos % 1_000 === 0) return `.${digits.slice(0, 6)}`;
  return `.${digits}`;
}

/** `1.500s`, `-0.000000001s`, `0s`. */
export function formatDuration(totalNanos: bigint): string {
  const negative = totalNanos < 0n;
  const { seconds, nanos } = splitNanos(negative ? -totalNanos : totalNanos);
  return `${negative ? '-' : ''}${seconds}${fraction(nanos)}s`;
}

function fractionNanos(digits: string | undefined): bigint {
  return digits === undefined ? 0n : BigInt(digits.padEnd(9, '0'));
}

/** Parses `"1.5s"`; returns total nanoseconds, or an explanation of what is wrong. */
export function parseDuration(text: string): bigint | string {
  const match = /^(-)?(\d+)(?:\.(\d{1,9}))?s$/.exec(text);
  if (match === null) return `expected a duration like "1.5s" or "0.250s", got ${JSON.stringify(text)}`;
  const seconds = BigInt(match[2] ?? '0');
  if (seconds > MAX_DURATION_SECONDS) return `duration ${text} is out of range (at most ${MAX_DURATION_SECONDS}s)`;
  const total = seconds * NANOS_PER_SECOND + fractionNanos(match[3]);
  return match[1] === '-' ? -total : total;
}

/** RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits: `2024-05-01T12:00:00.250Z`. */
export function formatTimestamp(totalNanos: bigint): string {
  let seconds = totalNanos / NANOS_PER_SECOND;
  let nanos = Number(totalNanos % NANOS_PER_SECOND);
  if (nanos < 0) {
    seconds -= 1n;
    nanos += 1_000_000_000;
  }
  const iso = new Date(Number(seconds) * 1000).toISOString();
  return `${iso.slice(0, 19)}${fraction(nanos)}Z`;
}

const TIMESTAMP_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp; returns nanoseconds since the epoch, or an explanation. */
export function parseTimestamp(text: string): bigint | string {
  const match = TIMESTAMP_RE.exec(text);
  const millis = match === null ? Number.NaN : Date.parse(`${match[1]}${match[3]}`);
  if (match === null || Number.isNaN(millis)) {
    return `expected an RFC 3339 timestamp like "2024-05-01T12:00:00Z", got ${JSON.stringify(text)}`;
  }
  const seconds = BigInt(millis / 1000);
  if (seconds < MIN_TIMESTAMP_SECONDS || seconds > MAX_TIMESTAMP_SECONDS) return `timestamp ${text} is out of range`;
  return seconds * NANOS_PER_SECOND + fractionNanos(match[2]);
}
