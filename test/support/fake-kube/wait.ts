/** Bounded waiting on callbacks and promises (no sleeps as synchronisation). */

/** Resolves with `promise`, or rejects naming `what` if it takes longer than `ms`. */
export async function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Records values pushed by callbacks; until() waits (bounded) for one matching a predicate. */
export class Recorder<T> {
  readonly seen: T[] = [];
  private readonly waiters = new Set<{ test: (value: T) => boolean; resolve: (value: T) => void }>();

  readonly push = (value: T): void => {
    this.seen.push(value);
    for (const waiter of [...this.waiters]) {
      if (!waiter.test(value)) continue;
      this.waiters.delete(waiter);
      waiter.resolve(value);
    }
  };

  /** The first value recorded at or after index `from` that matches. */
  until(test: (value: T) => boolean, what: string, { from = 0, ms = 5_000 } = {}): Promise<T> {
    const found = this.seen.slice(from).find(test);
    if (found !== undefined) return Promise.resolve(found);
    const waiter = { test, resolve: (_: T): void => {} };
    const promise = new Promise<T>((resolve) => (waiter.resolve = resolve));
    this.waiters.add(waiter);
    return within(promise, what, ms).finally(() => this.waiters.delete(waiter));
  }
}
