/**
 * Decides which occurrences of a repeated event are logged: per key, the first `perInterval` in each interval,
 * and of the rest only a count, reported with the next line logged for that key. Events a client can cause at
 * will (NACKs, connects, odd requests) so cost a bounded number of lines however often they happen; metrics,
 * not logs, count every one.
 */
export interface LogSamplerOptions {
  intervalMs?: number;
  /** Lines per key per interval (or per key, a budget of its own). */
  perInterval?: number | ((key: string) => number);
  /** Milliseconds, monotonic; injected by tests. */
  now?: () => number;
}

interface Window {
  start: number;
  logged: number;
  suppressed: number;
}

export class LogSampler {
  readonly #intervalMs: number;
  readonly #perInterval: (key: string) => number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  constructor(options: LogSamplerOptions = {}) {
    this.#intervalMs = options.intervalMs ?? 10_000;
    const perInterval = options.perInterval ?? 1;
    this.#perInterval = typeof perInterval === 'number' ? () => perInterval : perInterval;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * One occurrence of `key`. Undefined: do not log it (it is counted). A number: log it, saying that many
   * occurrences went unlogged since the previous line for this key.
   */
  take(key: string): number | undefined {
    const now = this.#now();
    let window = this.#windows.get(key);
    if (!window) {
      window = { start: now, logged: 0, suppressed: 0 };
      this.#windows.set(key, window);
    }
    if (now - window.start >= this.#intervalMs) {
      window.start = now;
      window.logged = 0;
    }
    if (window.logged >= this.#perInterval(key)) {
      window.suppressed += 1;
      return undefined;
    }
    window.logged += 1;
    const suppressed = window.suppressed;
    window.suppressed = 0;
    return suppressed;
  }

  /** Per key, the occurrences not logged since its last line (for a closing summary); they are then forgotten. */
  drain(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const [key, window] of this.#windows) {
      if (window.suppressed > 0) counts[key] = window.suppressed;
      window.suppressed = 0;
    }
    return counts;
  }
}

/** At most `max` UTF-16 units of `text`, saying how much was cut: client-supplied strings go into logs bounded. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}
