import type { Logger } from 'pino';
import { LogSampler, truncate } from '../logging/log-sampler.ts';
import type { NackRecord } from './client-view.ts';
import type { NodeInfo } from './messages.ts';

/** How much of what a client sends may reach one log line. */
export const LOG_NODE_ID_CHARS = 256;
export const LOG_MESSAGE_CHARS = 1024;

export interface StreamLogOptions {
  intervalMs: number;
  /** Lines per event kind per interval across all streams: connects and closes, and every other kind. */
  lifecyclePerInterval: number;
  globalPerInterval: number;
  now?: () => number;
}

type Level = 'debug' | 'info' | 'warn';

/** A model change that went into a version a client rejected, and where its policy lives. */
export interface NackCause {
  model: string;
  source?: string;
}

/** Models (and their policies) named in one NACK line; a snapshot of 10,000 changes names the first few. */
export const LOG_NACK_MODELS = 20;

function causeFields(causes: readonly NackCause[]): Record<string, unknown> {
  const models = [...new Set(causes.map((cause) => cause.model))];
  const sources = [...new Set(causes.flatMap((cause) => (cause.source ? [cause.source] : [])))];
  return {
    models: models.slice(0, LOG_NACK_MODELS),
    ...(models.length > LOG_NACK_MODELS ? { modelsTotal: models.length } : {}),
    ...(sources.length > 0 ? { sources: sources.slice(0, LOG_NACK_MODELS) } : {}),
  };
}

const nodeId = (node: NodeInfo | undefined) => (node ? truncate(node.id, LOG_NODE_ID_CHARS) : undefined);

/**
 * The xDS server's logs of what clients cause, sampled twice: per stream (the first line of each kind, then
 * one per interval) and across streams (a budget per kind per interval), so neither one client nor many can
 * make logs grow faster than that. Every line counts what was left out before it; a stream's own leftovers
 * are also counted in its closing line.
 */
export class StreamLogs {
  readonly #options: StreamLogOptions;
  readonly #global: LogSampler;
  readonly #streams = new WeakMap<Logger, StreamLog>();

  constructor(options: StreamLogOptions) {
    this.#options = options;
    const perInterval = (key: string) => (key === 'connect' || key === 'close' ? options.lifecyclePerInterval : options.globalPerInterval);
    this.#global = new LogSampler({ intervalMs: options.intervalMs, perInterval, ...(options.now ? { now: options.now } : {}) });
  }

  /** The sampled log of the stream `log` belongs to (the same one for every caller holding that logger). */
  forStream(log: Logger): StreamLog {
    let stream = this.#streams.get(log);
    if (!stream) {
      const own = new LogSampler({ intervalMs: this.#options.intervalMs, perInterval: 1, ...(this.#options.now ? { now: this.#options.now } : {}) });
      stream = new StreamLog(log, own, this.#global);
      this.#streams.set(log, stream);
    }
    return stream;
  }

  /** A stream refused before it was served: sampled across streams only. */
  refused(log: Logger, reason: string, fields: Record<string, unknown>, details: string): void {
    const suppressed = this.#global.take(`refused:${reason}`);
    if (suppressed === undefined) return;
    log.warn({ reason, ...fields, ...(suppressed > 0 ? { suppressed } : {}) }, `xDS stream refused: ${details}`);
  }
}

export class StreamLog {
  readonly #log: Logger;
  readonly #own: LogSampler;
  readonly #global: LogSampler;

  constructor(log: Logger, own: LogSampler, global: LogSampler) {
    this.#log = log;
    this.#own = own;
    this.#global = global;
  }

  connected(node: NodeInfo): void {
    this.#emit('info', 'connect', { node: nodeId(node) }, 'xDS client connected');
  }

  /** The closing line also counts every line of this stream that sampling left out. */
  closed(node: NodeInfo | undefined, fields: Record<string, unknown> = {}): void {
    const left = this.#own.drain();
    this.#emit('info', 'close', { node: nodeId(node), ...fields, ...(Object.keys(left).length > 0 ? { unloggedEvents: left } : {}) }, 'xDS stream closed');
  }

  /** `causes`: the model changes that went into the rejected version (computed only if the line is logged). */
  nack(type: string, node: NodeInfo | undefined, nack: NackRecord, causes?: () => readonly NackCause[]): void {
    this.#emit(
      'warn',
      `nack:${type}`,
      () => ({
        event: 'nack',
        type,
        node: nodeId(node),
        rejectedVersion: nack.version,
        keptVersion: truncate(nack.keptVersion, LOG_NODE_ID_CHARS),
        sequence: nack.sequence,
        ...(causes ? causeFields(causes()) : {}),
        error: truncate(nack.message, LOG_MESSAGE_CHARS),
      }),
      'NACK: client rejected configuration',
    );
  }

  ignored(typeUrl: string, reason: string): void {
    this.#emit('debug', 'ignored', { type: truncate(typeUrl, LOG_NODE_ID_CHARS), reason: truncate(reason, LOG_MESSAGE_CHARS) }, 'request ignored');
  }

  /** A served stream ended by a limit. */
  ended(reason: string, details: string): void {
    this.#emit('warn', `ended:${reason}`, { reason }, `xDS stream ended: ${details}`);
  }

  #emit(level: Level, key: string, fields: Record<string, unknown> | (() => Record<string, unknown>), message: string): void {
    if (!this.#log.isLevelEnabled(level)) return;
    const own = this.#own.take(key);
    if (own === undefined) return;
    const global = this.#global.take(key);
    if (global === undefined) return;
    const counts = { ...(own > 0 ? { unloggedOnStream: own } : {}), ...(global > 0 ? { unloggedAcrossStreams: global } : {}) };
    this.#log[level]({ ...(typeof fields === 'function' ? fields() : fields), ...counts }, message);
  }
}
