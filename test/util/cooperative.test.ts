import { describe, expect, it } from 'vitest';
import { runInSlices, runToEnd, type Steps } from '../../src/util/cooperative.ts';

/** Work of `units` steps, each advancing a fake clock by `msPerUnit`. */
function* work(clock: { now: number }, units: number, msPerUnit: number, log: string[]): Steps<number> {
  for (let i = 0; i < units; i++) {
    clock.now += msPerUnit;
    log.push(`unit ${i}`);
    yield;
  }
  return units;
}

describe('cooperative work', () => {
  it('runs to the end at once for one-shot callers', () => {
    const log: string[] = [];
    expect(runToEnd(work({ now: 0 }, 5, 3, log))).toBe(5);
    expect(log).toHaveLength(5);
  });

  it('gives the event loop a turn whenever a slice has used its time', async () => {
    const clock = { now: 0 };
    const log: string[] = [];
    const result = await runInSlices(work(clock, 10, 4, log), {
      sliceMs: 10,
      now: () => clock.now,
      yieldToLoop: async () => {
        log.push('turn');
      },
    });
    expect(result).toBe(10);
    // 4 ms a unit, 10 ms a slice: a turn after every third unit.
    expect(log.join(',')).toBe('unit 0,unit 1,unit 2,turn,unit 3,unit 4,unit 5,turn,unit 6,unit 7,unit 8,turn,unit 9');
  });

  it('lets timers and I/O run between slices of real work', async () => {
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 1);
    function* busy(): Steps<void> {
      for (let i = 0; i < 50; i++) {
        const until = performance.now() + 2;
        while (performance.now() < until);
        yield;
      }
    }
    try {
      await runInSlices(busy(), { sliceMs: 5 });
    } finally {
      clearInterval(timer);
    }
    expect(ticks).toBeGreaterThan(0);
  });
});
