export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
}

export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  now: () => Date.now(),
};

/**
 * Contour-style hold-off: run `fn` once changes stop for holdoffMs, but never later than maxDelayMs after
 * the first change of a burst, so a steady trickle of edits still gets applied.
 */
export function debounce(fn: () => void, holdoffMs: number, maxDelayMs: number, timers: Timers = realTimers): { trigger(): void; cancel(): void } {
  let handle: unknown;
  let burstStart: number | undefined;
  const fire = () => {
    handle = undefined;
    burstStart = undefined;
    fn();
  };
  return {
    trigger() {
      const now = timers.now();
      burstStart ??= now;
      if (handle !== undefined) timers.clearTimeout(handle);
      const wait = Math.max(0, Math.min(holdoffMs, burstStart + maxDelayMs - now));
      handle = timers.setTimeout(fire, wait);
    },
    cancel() {
      if (handle !== undefined) timers.clearTimeout(handle);
      handle = undefined;
      burstStart = undefined;
    },
  };
}
