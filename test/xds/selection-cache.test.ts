import { describe, expect, it } from 'vitest';
import { SelectionCache, SubscriptionInterner, subscriptionKey } from '../../src/xds/selection-cache.ts';
import { fakeSnapshot } from '../support/snapshots.ts';

const world = fakeSnapshot('1', { endpoint: [['a', '1'], ['b', '1'], ['c', '1']] });

describe('subscriptionKey', () => {
  it('is the same for the same names in any order, and differs for other names or kinds', () => {
    expect(subscriptionKey('endpoint', new Set(['a', 'b']))).toBe(subscriptionKey('endpoint', new Set(['b', 'a'])));
    expect(subscriptionKey('endpoint', new Set(['a', 'b']))).not.toBe(subscriptionKey('endpoint', new Set(['a', 'c'])));
    expect(subscriptionKey('endpoint', new Set(['a']))).not.toBe(subscriptionKey('route', new Set(['a'])));
    expect(subscriptionKey('cluster', 'wildcard')).not.toBe(subscriptionKey('cluster', new Set(['*'])));
  });
});

describe('SelectionCache', () => {
  it('works a selection out once per snapshot for streams that subscribe alike', () => {
    const cache = new SelectionCache();
    const [first, second] = [new Set(['b', 'a']), new Set(['a', 'b'])];
    const one = cache.get(world, 'endpoint', first, subscriptionKey('endpoint', first));
    const two = cache.get(world, 'endpoint', second, subscriptionKey('endpoint', second));
    expect(two).toBe(one);
    expect(one.resources.map((r) => r.name).sort()).toEqual(['a', 'b']);
    expect(one.anys).toHaveLength(2);
    expect([...one.view.keys()].sort()).toEqual(['a', 'b']);
  });

  it('selects afresh from a new snapshot', () => {
    const cache = new SelectionCache();
    const names = new Set(['a']);
    const key = subscriptionKey('endpoint', names);
    const before = cache.get(world, 'endpoint', names, key);
    const after = cache.get(fakeSnapshot('2', { endpoint: [['a', '2']] }), 'endpoint', names, key);
    expect(after.version).not.toBe(before.version);
    expect(Buffer.from(after.anys[0]!).toString()).toBe('a=2');
  });
});

describe('SubscriptionInterner', () => {
  it('hands streams that subscribe alike one shared set, and leaves wildcard alone', () => {
    const interner = new SubscriptionInterner();
    const first = new Set(['a', 'b']);
    const second = new Set(['b', 'a']);
    expect(interner.intern(subscriptionKey('endpoint', first), first)).toBe(first);
    expect(interner.intern(subscriptionKey('endpoint', second), second)).toBe(first);
    const other = new Set(['c']);
    expect(interner.intern(subscriptionKey('endpoint', other), other)).toBe(other);
    expect(interner.intern(subscriptionKey('cluster', 'wildcard'), 'wildcard')).toBe('wildcard');
  });
});
