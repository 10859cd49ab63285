import { describe, expect, it } from 'vitest';
import { Subscription } from '../../src/xds/subscription.ts';

const selected = (s: Subscription) => (s.wildcard ? ['*', ...[...s.names].sort()] : [...s.names].sort());

describe('Subscription, state of the world (xds_protocol.rst "How the client specifies what resources to return")', () => {
  it('starts as a legacy wildcard when a first LDS/CDS/SRDS request names nothing, and stays one while it names nothing', () => {
    const s = Subscription.sotw('cluster', []);
    expect(s.selector).toBe('wildcard');
    expect(s.replace([])).toBe(false);
    expect(s.selector).toBe('wildcard');
  });

  it('a type that cannot be wildcard (EDS, RDS) asked with no names subscribes to nothing', () => {
    const s = Subscription.sotw('endpoint', []);
    expect(s.wildcard).toBe(false);
    expect(s.names.size).toBe(0);
  });

  it('ends the legacy wildcard for good once names are given: an empty list then means nothing', () => {
    const s = Subscription.sotw('listener', []);
    expect(s.replace(['a'])).toBe(true);
    expect(selected(s)).toEqual(['a']);
    expect(s.replace([])).toBe(true);
    expect(selected(s)).toEqual([]);
  });

  it('an explicit "*" followed by an empty list unsubscribes from everything (go-control-plane reads it the same)', () => {
    const s = Subscription.sotw('cluster', ['*']);
    expect(s.selector).toBe('wildcard');
    expect(s.replace([])).toBe(true);
    expect(s.selector).toEqual(new Set());
  });

  it('keeps explicit names beside "*", and reports no change for the same list in another order', () => {
    const s = Subscription.sotw('cluster', ['*', 'b', 'a']);
    expect(selected(s)).toEqual(['*', 'a', 'b']);
    expect(s.replace(['a', '*', 'b'])).toBe(false);
    expect(s.replace(['a', 'b'])).toBe(true);
    expect(selected(s)).toEqual(['a', 'b']);
  });

  it('lets an equal name set shared by other streams stand in for the new one', () => {
    const shared = new Set(['a', 'b']);
    const s = Subscription.sotw('endpoint', ['b', 'a'], () => shared);
    expect(s.names).toBe(shared);
  });
});

describe('Subscription, delta (xds_protocol.rst "Incremental xDS")', () => {
  it('a first request naming nothing is a legacy wildcard for LDS/CDS/SRDS only', () => {
    expect(Subscription.delta('cluster', [], []).selector).toBe('wildcard');
    expect(Subscription.delta('route', [], []).selector).toEqual(new Set());
    // An unsubscribe-only first request names something: not the legacy wildcard.
    expect(Subscription.delta('cluster', [], ['x']).wildcard).toBe(false);
  });

  it('the legacy wildcard stays when names are added (the spec example), and goes only when "*" is unsubscribed', () => {
    const s = Subscription.delta('cluster', [], []);
    const added = s.update(['a'], []);
    expect([added.subscribed, added.wildcardAdded]).toEqual([['a'], false]);
    expect(selected(s)).toEqual(['*', 'a']);
    s.update([], ['*']);
    expect(selected(s)).toEqual(['a']);
  });

  it('reports names unsubscribed while the wildcard still covers them, which the server must answer', () => {
    const s = Subscription.delta('cluster', ['*', 'a', 'b'], []);
    const change = s.update([], ['a', 'missing']);
    expect(change.unsubscribedUnderWildcard).toEqual(['a']);
    expect(selected(s)).toEqual(['*', 'b']);
  });

  it('reports the wildcard being turned on only when it was off', () => {
    const s = Subscription.delta('route', ['r1'], []);
    expect(s.update(['*'], []).wildcardAdded).toBe(true);
    expect(s.update(['*'], []).wildcardAdded).toBe(false);
  });

  it('changes names in place, interned through the given function', () => {
    const s = Subscription.delta('endpoint', ['a'], [], (name) => `${name}!`);
    s.update(['b'], ['a!'], (name) => `${name}!`);
    expect(selected(s)).toEqual(['b!']);
    expect(s.covers('b!')).toBe(true);
    expect(s.covers('a!')).toBe(false);
  });
});
