import type { DestinationStream } from 'pino';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function isLogFormat(value: string): value is LogFormat {
  return (LOG_FORMATS as readonly string[]).includes(value);
}

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Said by every line, or by the line's layout: not repeated as key=value. */
const OMITTED = new Set(['level', 'time', 'msg', 'app', 'pid', 'hostname']);
const BARE = /^[\w.:/@|+-]+$/;

function value(field: unknown): string {
  if (typeof field === 'string') return BARE.test(field) ? field : JSON.stringify(field);
  if (field !== null && typeof field === 'object' && 'message' in field && 'type' in field) return JSON.stringify(String((field as { message: unknown }).message));
  return JSON.stringify(field) ?? String(field);
}

/**
 * One pino JSON line as one human line: `HH:MM:SS.mmm LEVEL message key=value ...` in the order pino wrote
 * the fields (the event's own first); strings bare when they need no quotes, everything else as JSON, an
 * error by its message alone. Anything that is not a pino line passes through unchanged.
 */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const time = typeof record['time'] === 'string' ? record['time'].slice(11, 23) : '';
  const level = (LEVELS[Number(record['level'])] ?? String(record['level'])).padEnd(5);
  const fields = Object.entries(record).filter(([key]) => !OMITTED.has(key)).map(([key, field]) => `${key}=${value(field)}`);
  const message = typeof record['msg'] === 'string' ? record['msg'] : '';
  return `${[time, level, message, ...fields].filter((part) => part !== '').join(' ')}\n`;
}

/** A pino destination that writes each line through prettyLine (pino hands a destination one line per write). */
export function prettyDestination(out: { write(text: string): unknown }): DestinationStream {
  return { write: (line: string) => void out.write(prettyLine(line.endsWith('\n') ? line.slice(0, -1) : line)) };
}
