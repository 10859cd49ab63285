import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LeaseElector } from '../../src/kube/leader.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { loadKubeConfig, startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';

let kube: FakeKube;
beforeAll(async () => {
  kube = await startFakeKube();
});
afterAll(async () => {
  await kube?.close();
});

describe('LeaseElector against the API server', () => {
  it('elects exactly one replica, and hands over only after the holder stops renewing', async () => {
    let clock = Date.parse('2026-11-25T00:00:00Z');
    const elector = (identity: string) => {
      const e = new LeaseElector({ config: loadKubeConfig(kube), namespace: 'infermesh-system', name: 'infermesh-events', identity, leaseDurationSeconds: 10, logger: silentLogger(), now: () => new Date(clock) });
      e.stop(); // driven tick by tick below, no timers
      return e;
    };
    const a = elector('replica-a');
    const b = elector('replica-b');
    expect(await a.tick()).toBe(true);
    expect(await b.tick()).toBe(false);
    clock += 5_000;
    expect(await a.tick()).toBe(true);
    expect(await b.tick()).toBe(false);
    // a stops renewing; once the lease has expired, b takes over and a knows it is no longer leader.
    clock += 11_000;
    expect(a.isLeader()).toBe(false);
    expect(await b.tick()).toBe(true);
    expect(await a.tick()).toBe(false);
    const lease = kube.leases().find((l) => l.metadata.name === 'infermesh-events');
    expect(lease?.['spec']).toMatchObject({ holderIdentity: 'replica-b', leaseTransitions: 1 });
  });
});
