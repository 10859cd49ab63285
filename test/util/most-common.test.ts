import { describe, expect, it } from 'vitest';
import { mostCommon } from '../../src/util/most-common.ts';

describe('mostCommon', () => {
  it('picks the item whose key occurs most, the first one seen on a tie, and skips items without a key', () => {
    const key = (word: string) => (word === '' ? undefined : word[0]);
    expect(mostCommon(['apple', 'banana', 'avocado', '', '', ''], key)).toBe('apple');
    expect(mostCommon(['banana', 'apple'], key)).toBe('banana');
    expect(mostCommon(['', ''], key)).toBeUndefined();
  });
});
