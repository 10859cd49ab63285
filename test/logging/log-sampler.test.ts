import { describe, expect, it } from 'vitest';
import { LogSampler, truncate } from '../../src/logging/log-sampler.ts';

describe('LogSampler', () => {
  it('logs the first occurrence, then one per interval carrying the count of those left out', () => {
    let now = 0;
    const sampler = new LogSampler({ intervalMs: 10_000, now: () => now });
    expect(sampler.take('nack')).toBe(0);
    for (let i = 0; i < 99; i += 1) expect(sampler.take('nack')).toBeUndefined();
    now = 9_999;
    expect(sampler.take('nack')).toBeUndefined();
    now = 10_000;
    expect(sampler.take('nack')).toBe(100);
    expect(sampler.take('nack')).toBeUndefined();
    expect(sampler.drain()).toEqual({ nack: 1 });
    expect(sampler.drain()).toEqual({});
  });

  it('keeps keys apart and gives each its budget', () => {
    const sampler = new LogSampler({ intervalMs: 1_000, perInterval: (key) => (key === 'connect' ? 3 : 1), now: () => 0 });
    expect([1, 2, 3, 4].map(() => sampler.take('connect'))).toEqual([0, 0, 0, undefined]);
    expect([1, 2].map(() => sampler.take('nack'))).toEqual([0, undefined]);
    expect(sampler.drain()).toEqual({ connect: 1, nack: 1 });
  });
});

describe('truncate', () => {
  it('keeps short text and says how much of long text was cut', () => {
    expect(truncate('abc', 5)).toBe('abc');
    expect(truncate('x'.repeat(2000), 1024)).toBe(`${'x'.repeat(1024)}... (976 more characters)`);
  });
});
