/**
 * Hysteresis on one pod's probe failures: probe-failing after `failuresToMark` consecutive failures (its
 * last answers stand until then), healthy again after `successesToRestore` consecutive successes. A single
 * lost probe never flips an endpoint; a dead pod is marked within N intervals.
 */
export interface PodHealthOptions {
  failuresToMark: number;
  successesToRestore: number;
  now?: () => number;
}

export class PodHealth {
  #failures = 0;
  #successes = 0;
  #failing = false;
  #lastError: string | undefined;
  #since: number;
  readonly #options: PodHealthOptions;

  constructor(options: PodHealthOptions) {
    this.#options = options;
    this.#since = this.#now();
  }

  get failing(): boolean {
    return this.#failing;
  }

  /** The last probe error (kept while failing, for the reason shown). */
  get lastError(): string | undefined {
    return this.#lastError;
  }

  get consecutiveFailures(): number {
    return this.#failures;
  }

  /** When `failing` last changed (or creation). */
  get since(): number {
    return this.#since;
  }

  /** Returns true when this success restored a failing pod. */
  recordSuccess(): boolean {
    this.#failures = 0;
    if (!this.#failing) return false;
    this.#successes += 1;
    if (this.#successes < this.#options.successesToRestore) return false;
    this.#failing = false;
    this.#successes = 0;
    this.#lastError = undefined;
    this.#since = this.#now();
    return true;
  }

  /** Returns true when this failure marked the pod failing. */
  recordFailure(error: string): boolean {
    this.#successes = 0;
    this.#failures += 1;
    this.#lastError = error;
    if (this.#failing || this.#failures < this.#options.failuresToMark) return false;
    this.#failing = true;
    this.#since = this.#now();
    return true;
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }
}
