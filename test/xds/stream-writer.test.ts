import { describe, expect, it } from 'vitest';
import type { ResourceKind } from '../../src/envoy/type-urls.ts';
import { StreamWriter, WriteLimiter } from '../../src/xds/stream-writer.ts';
import { eventually } from '../support/eventually.ts';

type P = { kind: ResourceKind; label: string };

/** A call whose writes complete only when the test says so, like an HTTP/2 stream whose window is full. */
function manualCall() {
  const written: string[] = [];
  const callbacks: (() => void)[] = [];
  return {
    written,
    flushOne: async () => {
      callbacks.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    },
    call: { write: (bytes: Buffer, done: () => void) => (written.push(bytes.toString()), callbacks.push(done)) },
  };
}

const encode = (push: P) => Buffer.from(push.label);
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('StreamWriter', () => {
  it('keeps one response in flight and replaces a waiting one of the same type with the newer', async () => {
    const { call, written, flushOne } = manualCall();
    const writer = new StreamWriter<P>(call, encode, new WriteLimiter(10));
    writer.enqueue({ kind: 'cluster', label: 'cds-1' });
    await tick();
    writer.enqueue({ kind: 'cluster', label: 'cds-2' });
    writer.enqueue({ kind: 'cluster', label: 'cds-3' });
    writer.enqueue({ kind: 'route', label: 'rds-1' });
    writer.enqueue({ kind: 'endpoint', label: 'eds-1' });
    expect(written).toEqual(['cds-1']);
    for (let i = 0; i < 4; i += 1) await flushOne();
    expect(written).toEqual(['cds-1', 'cds-3', 'eds-1', 'rds-1']);
  });

  it('merges a waiting response with a newer one of the same type when given a merge', async () => {
    const { call, written, flushOne } = manualCall();
    const merge = (older: P, newer: P): P => ({ kind: newer.kind, label: `${older.label}+${newer.label}` });
    const writer = new StreamWriter<P>(call, encode, new WriteLimiter(10), { merge });
    writer.enqueue({ kind: 'endpoint', label: 'a' });
    await tick();
    writer.enqueue({ kind: 'endpoint', label: 'b' });
    writer.enqueue({ kind: 'endpoint', label: 'c' });
    for (let i = 0; i < 2; i += 1) await flushOne();
    expect(written).toEqual(['a', 'b+c']);
  });

  it('caps concurrent writes across streams, and a stalled stream gives its slot back', async () => {
    const limiter = new WriteLimiter(1);
    const stalled = manualCall();
    const healthy = manualCall();
    new StreamWriter<P>(stalled.call, encode, limiter, { stallMs: 20 }).enqueue({ kind: 'cluster', label: 'to-stalled' });
    new StreamWriter<P>(healthy.call, encode, limiter, { stallMs: 20 }).enqueue({ kind: 'cluster', label: 'to-healthy' });
    await tick();
    expect(healthy.written).toEqual([]);
    // The stalled stream's write never completes; after stallMs its slot is released to the healthy one.
    await eventually(() => expect(healthy.written).toEqual(['to-healthy']), { timeoutMs: 2_000, intervalMs: 5 });
    expect(stalled.written).toEqual(['to-stalled']);
  });
});
