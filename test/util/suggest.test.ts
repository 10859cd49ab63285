import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance, MAX_SUGGESTION_INPUT, nearest } from '../../src/util/suggest.ts';

describe('did-you-mean suggestions', () => {
  it('measures optimal string alignment distance, transpositions included', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('sitting', 'kitten')).toBe(3);
    expect(editDistance('atempts', 'attempts')).toBe(1);
    expect(editDistance('attmepts', 'attempts')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('abc', '')).toBe(3);
  });

  it('suggests the nearest name for a plausible typo, nothing for a distant one', () => {
    expect(nearest('atempts', ['attempts', 'perTryTimeout'])).toBe('attempts');
    expect(nearest('Per_Try_Timeout', ['attempts', 'perTryTimeout'])).toBe('perTryTimeout');
    expect(nearest('zzzz', ['attempts'])).toBeUndefined();
  });

  it('does not compare names longer than any plausible typo (a megabyte-long key costs nothing)', () => {
    const huge = `attempts${'s'.repeat(1_000_000)}`;
    expect(closestMatch(huge, [['attempts']])).toBeUndefined();
    // Just over the limit gets no suggestion even when it is one edit away from a (long) candidate.
    const candidate = 'a'.repeat(MAX_SUGGESTION_INPUT);
    expect(nearest(`${candidate}b`, [candidate])).toBeUndefined();
    expect(nearest(`${candidate.slice(1)}b`, [candidate])).toBe(candidate);
  });
});
