import type { Logger } from 'pino';

export interface PushSummaryOptions {
  /** How long after its first push a summary is written (later pushes go into the next one). */
  windowMs?: number;
  setTimer?: (run: () => void, ms: number) => { unref?(): unknown };
  clearTimer?: (timer: unknown) => void;
}

interface TypeTotals {
  responses: number;
  resources: number;
  bytes: number;
}

interface Window {
  snapshot: string | undefined;
  sequence: number | undefined;
  streams: Set<string>;
  responses: number;
  bytes: number;
  types: Map<string, TypeTotals>;
  timer: unknown;
}

/**
 * What the xDS server pushed, as one info line per snapshot (`event: "push-summary"`) rather than one per
 * stream per push: streams reached, responses, bytes and resources by type. A window opens with the first push
 * after a snapshot is published and closes after `windowMs` or when the next snapshot arrives, whichever
 * comes first, so a fan-out to 10,000 proxies is one line, and pushes to proxies connecting later (at the same
 * snapshot) are at most one more line per window. Per-push lines stay at debug.
 */
export class PushSummary {
  readonly #logger: Logger;
  readonly #windowMs: number;
  readonly #setTimer: NonNullable<PushSummaryOptions['setTimer']>;
  readonly #clearTimer: NonNullable<PushSummaryOptions['clearTimer']>;
  #window: Window | undefined;

  constructor(logger: Logger, options: PushSummaryOptions = {}) {
    this.#logger = logger;
    this.#windowMs = options.windowMs ?? 1_000;
    this.#setTimer = options.setTimer ?? ((run, ms) => setTimeout(run, ms));
    this.#clearTimer = options.clearTimer ?? ((timer) => clearTimeout(timer as NodeJS.Timeout));
  }

  /** One response written to stream `stream` while snapshot `snapshot` (digest, sequence) was current. */
  record(stream: string, type: string, resources: number, bytes: number, snapshot: { version: string; sequence: number } | undefined): void {
    if (this.#window && this.#window.sequence !== snapshot?.sequence) this.flush();
    let window = this.#window;
    if (!window) {
      const timer = this.#setTimer(() => this.flush(), this.#windowMs);
      timer.unref?.();
      window = { snapshot: snapshot?.version, sequence: snapshot?.sequence, streams: new Set(), responses: 0, bytes: 0, types: new Map(), timer };
      this.#window = window;
    }
    window.streams.add(stream);
    window.responses += 1;
    window.bytes += bytes;
    const totals = window.types.get(type) ?? { responses: 0, resources: 0, bytes: 0 };
    totals.responses += 1;
    totals.resources += resources;
    totals.bytes += bytes;
    window.types.set(type, totals);
  }

  /** Writes the open window's line, if any (also called on a new snapshot and on close). */
  flush(): void {
    const window = this.#window;
    if (!window) return;
    this.#window = undefined;
    this.#clearTimer(window.timer);
    const types = Object.fromEntries([...window.types].sort(([a], [b]) => (a < b ? -1 : 1)));
    this.#logger.info(
      { event: 'push-summary', ...(window.snapshot ? { snapshot: window.snapshot, sequence: window.sequence } : {}), streams: window.streams.size, responses: window.responses, bytes: window.bytes, types },
      `pushed ${window.responses} responses (${window.bytes} bytes) to ${window.streams.size} streams${window.sequence !== undefined ? ` at snapshot ${window.sequence}` : ''}`,
    );
  }
}
