import { describe, expect, it } from 'vitest';
import { debounce, type Timers } from '../../src/controller/debounce.ts';

/** A manual clock: time moves only when the test says so. */
function manualTimers() {
  let now = 0;
  let nextId = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      nextId += 1;
      pending.set(nextId, { at: now + ms, fn });
      return nextId;
    },
    clearTimeout: (handle) => void pending.delete(handle as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, timer] of [...pending]) {
      if (timer.at <= now) {
        pending.delete(id);
        timer.fn();
      }
    }
  };
  return { timers, advance };
}

describe('debounce', () => {
  it('runs once after changes stop for the hold-off', () => {
    const { timers, advance } = manualTimers();
    let runs = 0;
    const d = debounce(() => (runs += 1), 100, 1000, timers);
    d.trigger();
    advance(50);
    d.trigger();
    advance(99);
    expect(runs).toBe(0);
    advance(1);
    expect(runs).toBe(1);
  });

  it('runs no later than the maximum delay under a steady trickle of changes', () => {
    const { timers, advance } = manualTimers();
    let runs = 0;
    const d = debounce(() => (runs += 1), 100, 300, timers);
    for (let i = 0; i < 10; i += 1) {
      d.trigger();
      advance(50);
    }
    expect(runs).toBeGreaterThanOrEqual(1);
  });

  it('cancel drops a pending run', () => {
    const { timers, advance } = manualTimers();
    let runs = 0;
    const d = debounce(() => (runs += 1), 100, 300, timers);
    d.trigger();
    d.cancel();
    advance(1000);
    expect(runs).toBe(0);
  });
});
