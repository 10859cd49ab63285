import { fractionDigits, fractionNanos, NANOS_PER_SECOND } from '../util/duration.ts';
import { isRecord, toBigInt } from './proto-reflect.ts';

/** google.protobuf.Timestamp in its proto3 JSON form, and Duration/Timestamp messages as nanosecond bigints. */

const MIN_TIMESTAMP_SECONDS = -62_135_596_800n; // 0001-01-01T00:00:00Z
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n; // 9999-12-31T23:59:59Z

/** Total nanoseconds of a `{seconds, nanos}` message (Long, number or string seconds; missing = 0). */
export function messageNanos(message: unknown): bigint {
  if (!isRecord(message)) return 0n;
  const seconds = toBigInt(message['seconds']) ?? 0n;
  const nanos = typeof message['nanos'] === 'number' ? message['nanos'] : 0;
  return seconds * NANOS_PER_SECOND + BigInt(nanos);
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
  return `${iso.slice(0, 19)}${fractionDigits(nanos)}Z`;
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
