import pino, { type Logger } from 'pino';

export type { Logger };

/** JSON logs to stdout (or the given destination); tests pass a silent logger. */
export function createLogger(level: string = process.env['LOG_LEVEL'] ?? 'info', destination?: pino.DestinationStream): Logger {
  const options = { level, base: { app: 'infermesh' }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
