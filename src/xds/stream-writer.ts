import { RESOURCE_KINDS, type ResourceKind } from '../envoy/type-urls.ts';

/** Caps how many responses are being written at once across all streams, so a push to thousands of proxies
 * does not materialise thousands of large messages in memory at the same time. */
export class WriteLimiter {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = limit;
  }

  acquire(): Promise<void> {
    if (this.#active < this.#limit) {
      this.#active += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#active -= 1;
  }
}

export interface WritableCall {
  write(bytes: Buffer, callback: () => void): unknown;
}

/**
 * One stream's outbound side. At most one response is in flight per stream (the next waits until HTTP/2 has
 * taken the previous), and while it waits a newer response of the same type is merged into the older one
 * (`merge`; by default the newer simply replaces it). A stalled proxy therefore holds one message per type,
 * not a growing queue, and releases its limiter slot after `stallMs` so it cannot hold up the others.
 */
export class StreamWriter<P extends { kind: ResourceKind }> {
  readonly #call: WritableCall;
  readonly #encode: (push: P) => Buffer;
  readonly #limiter: WriteLimiter;
  readonly #stallMs: number;
  readonly #merge: (older: P, newer: P) => P;
  readonly #pending = new Map<ResourceKind, P>();
  #pumping = false;
  #closed = false;

  constructor(call: WritableCall, encode: (push: P) => Buffer, limiter: WriteLimiter, options: { stallMs?: number; merge?: (older: P, newer: P) => P } = {}) {
    this.#call = call;
    this.#encode = encode;
    this.#limiter = limiter;
    this.#stallMs = options.stallMs ?? 5_000;
    this.#merge = options.merge ?? ((_older, newer) => newer);
  }

  enqueue(push: P): void {
    const waiting = this.#pending.get(push.kind);
    this.#pending.set(push.kind, waiting ? this.#merge(waiting, push) : push);
    void this.#pump();
  }

  close(): void {
    this.#closed = true;
    this.#pending.clear();
  }

  /** Kinds in make-before-break order: clusters before endpoints, listeners before routes. */
  #next(): P | undefined {
    for (const kind of RESOURCE_KINDS) {
      const push = this.#pending.get(kind);
      if (push) {
        this.#pending.delete(kind);
        return push;
      }
    }
    return undefined;
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      for (let push = this.#next(); push && !this.#closed; push = this.#next()) {
        await this.#limiter.acquire();
        let released = false;
        const release = () => {
          if (!released) this.#limiter.release();
          released = true;
        };
        const stalled = setTimeout(release, this.#stallMs);
        await new Promise<void>((resolve) => this.#call.write(this.#encode(push), () => resolve()));
        clearTimeout(stalled);
        release();
      }
    } finally {
      this.#pumping = false;
    }
  }
}
