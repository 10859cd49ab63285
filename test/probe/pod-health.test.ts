import { describe, expect, it } from 'vitest';
import { PodHealth } from '../../src/probe/pod-health.ts';

describe('pod probe hysteresis', () => {
  it('marks after N consecutive failures, not before', () => {
    const health = new PodHealth({ failuresToMark: 3, successesToRestore: 2 });
    expect(health.recordFailure('a')).toBe(false);
    expect(health.recordFailure('b')).toBe(false);
    expect(health.failing).toBe(false);
    expect(health.recordFailure('c')).toBe(true);
    expect(health.failing).toBe(true);
    expect(health.lastError).toBe('c');
    expect(health.recordFailure('d')).toBe(false);
    expect(health.lastError).toBe('d');
  });

  it('a success between failures starts the count again', () => {
    const health = new PodHealth({ failuresToMark: 3, successesToRestore: 2 });
    health.recordFailure('a');
    health.recordFailure('b');
    expect(health.recordSuccess()).toBe(false);
    health.recordFailure('c');
    health.recordFailure('d');
    expect(health.failing).toBe(false);
    expect(health.consecutiveFailures).toBe(2);
  });

  it('restores after M consecutive successes; a failure in between starts the count again', () => {
    const health = new PodHealth({ failuresToMark: 1, successesToRestore: 2 });
    health.recordFailure('down');
    expect(health.failing).toBe(true);
    expect(health.recordSuccess()).toBe(false);
    expect(health.recordFailure('again')).toBe(false);
    expect(health.recordSuccess()).toBe(false);
    expect(health.failing).toBe(true);
    expect(health.recordSuccess()).toBe(true);
    expect(health.failing).toBe(false);
    expect(health.lastError).toBeUndefined();
  });

  it('records when the state changed with the injected clock', () => {
    let now = 1000;
    const health = new PodHealth({ failuresToMark: 2, successesToRestore: 1, now: () => now });
    expect(health.since).toBe(1000);
    now = 2000;
    health.recordFailure('x');
    now = 3000;
    health.recordFailure('x');
    expect(health.since).toBe(3000);
    now = 4000;
    health.recordSuccess();
    expect(health.since).toBe(4000);
  });
});
