import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/policy/index.ts';

describe('parseDuration', () => {
  it.each([
    ['250ms', 250],
    ['5s', 5_000],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1.5s', 1_500],
    ['0.25s', 250],
    ['1m30s', 90_000],
    ['1h1m1s1ms', 3_661_001],
    ['0.001s', 1],
    ['0s', 0],
    ['24h', 86_400_000],
  ])('%s -> %i ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([
    ['5', 'has no unit'],
    ['1.5', 'has no unit'],
    ['-1s', 'is negative'],
    ['+5s', 'has a sign'],
    ['5 s', 'contains spaces'],
    [' 5s', 'contains spaces'],
    ['', 'is empty'],
    ['1.5ms', 'finer than a millisecond'],
    ['0.0001s', 'finer than a millisecond'],
    ['25h', 'longer than the maximum, 24h'],
    ['24h1ms', 'longer than the maximum, 24h'],
    ['30s1m', 'largest first'],
    ['1s1s', 'largest first'],
    ['5sec', 'unknown unit "sec"'],
    ['5us', 'unknown unit "us"'],
    ['1d', 'unknown unit "d"'],
    ['s', 'is not a duration'],
    ['.5s', 'is not a duration'],
    ['1.s', 'is not a duration'],
    ['1e3ms', 'unknown unit "e"'],
  ])('rejects %j (%s) and lists valid examples', (text, problem) => {
    const result = parseDuration(text);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toContain(problem);
    expect(result.message).toContain(JSON.stringify(text));
    expect(result.message).toContain('e.g. 250ms, 5s, 1.5s, 1m30s, 1h');
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [250, '250ms'],
    [1_500, '1s500ms'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
  ])('%i ms -> %s, which parses back', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toEqual({ ok: true, ms });
  });
});
