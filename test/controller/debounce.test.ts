import { describe, expect, it } from 'vitest';
import { debounce } from '../../src/controller/debounce.ts';
import { manualTimers } from '../support/manual-timers.ts';

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
