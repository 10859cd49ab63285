import { describe, expect, it } from 'vitest';
import { EncodedResponseCache } from '../../src/xds/response-cache.ts';

describe('EncodedResponseCache', () => {
  const a = { name: 'a' };
  const b = { name: 'b' };

  it('encodes once for streams sent the same resources under the same key', () => {
    const cache = new EncodedResponseCache<object>();
    let encodes = 0;
    const encode = () => Buffer.from(`message ${++encodes}`);
    const first = cache.get('cds 1', [a, b], encode);
    const second = cache.get('cds 1', [a, b], encode);
    expect(second).toBe(first);
    expect(encodes).toBe(1);
  });

  it('encodes again for other resources, another order, or another key', () => {
    const cache = new EncodedResponseCache<object>();
    let encodes = 0;
    const encode = () => Buffer.from(`message ${++encodes}`);
    cache.get('cds 1', [a, b], encode);
    cache.get('cds 1', [b, a], encode);
    cache.get('cds 1', [{ name: 'a' }, b], encode);
    cache.get('cds 2', [{ name: 'a' }, b], encode);
    expect(encodes).toBe(4);
  });

  it('forgets the least recently used entry beyond its limit', () => {
    const cache = new EncodedResponseCache<object>(2);
    let encodes = 0;
    const encode = () => Buffer.from(`message ${++encodes}`);
    const items = [a];
    cache.get('1', items, encode);
    cache.get('2', items, encode);
    cache.get('1', items, encode);
    cache.get('3', items, encode);
    expect(encodes).toBe(3);
    cache.get('1', items, encode);
    expect(encodes).toBe(3);
    cache.get('2', items, encode);
    expect(encodes).toBe(4);
  });
});
