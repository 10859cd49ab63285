import pino, { type Logger } from 'pino';
import { prettyDestination, type LogFormat } from './pretty.ts';

export type { Logger };
export { LOG_FORMATS, isLogFormat, type LogFormat } from './pretty.ts';

/**
 * JSON logs to stdout (or the given destination); `pretty` writes the same events one human line each
 * (pretty.ts). Tests pass a silent logger.
 */
export function createLogger(level: string = process.env['LOG_LEVEL'] ?? 'info', destination?: pino.DestinationStream, format: LogFormat = 'json'): Logger {
  const options = { level, base: { app: 'infermesh' }, timestamp: pino.stdTimeFunctions.isoTime };
  const out = format === 'pretty' ? prettyDestination(destination ?? process.stdout) : destination;
  return out ? pino(options, out) : pino(options);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
