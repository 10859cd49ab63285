/**
 * Cold-start holds, on a manual clock: who is held, what lets a hold go (ready AND ACKed by the proxies using
 * the model, or the sync grace after ready), holdFor, the bound on held requests, cancel and shutdown.
 */
import { describe, expect, it } from 'vitest';
import { ColdStartHolds, type HoldResult, type RolloutView } from '../../src/coldstart/holds.ts';
import type { Endpoint, Model, ModelPolicy } from '../../src/model/types.ts';
import { manualTimers } from '../support/manual-timers.ts';
import { testModel, testPolicy } from '../support/models.ts';

const ready: Endpoint = { address: '10.0.0.1', port: 8001, health: 'healthy' };
const notReady: Endpoint = { address: '10.0.0.1', port: 8001, health: 'unhealthy' };
const HOLD = 30_000;

function model(endpoints: Endpoint[], overrides: Partial<ModelPolicy> = {}): Model {
  return testModel(testPolicy({ model: 'chat', aliases: ['chat-latest'], coldStart: { holdForMs: HOLD }, ...overrides }), endpoints);
}

const live = (sequence: number): RolloutView[] => [{ model: 'chat', sequence, state: 'live' }];
const pendingRollout = (sequence: number): RolloutView[] => [{ model: 'chat', sequence, state: 'pending' }];

function setup(options: { maxHeld?: number } = {}) {
  const clock = manualTimers();
  const ended: HoldResult[] = [];
  const counts: [string, number][] = [];
  /** What each connected sidecar has ACKed: the latest snapshot sequence, by node id. */
  const acked = new Map<string, number>();
  const proxySync = () => (node: string, sequence: number) => {
    const through = acked.get(node);
    return through === undefined ? undefined : through >= sequence;
  };
  const holds = new ColdStartHolds({ timers: clock.timers, syncGraceMs: 2_000, ...options, proxySync, onEnd: (r) => ended.push(r), onHeldCount: (m, c) => counts.push([m, c]) });
  return { ...clock, holds, ended, counts, acked };
}

describe('ColdStartHolds', () => {
  it('does not hold a model without coldStart, an unknown model, an unknown version, or a ready and synced one', async () => {
    const { holds } = setup();
    holds.observeModels([model([notReady], { model: 'plain', aliases: [], coldStart: undefined }), model([ready])], 3);
    holds.observeRollouts(live(3));
    for (const [name, version] of [['plain', undefined], ['nope', undefined], ['chat', '9'], ['chat', undefined], ['chat', '1']] as const) {
      const hold = holds.hold(name, version);
      expect(hold.holdForMs).toBeUndefined();
      expect((await hold.result).outcome).toBe('not_held');
    }
    expect(holds.heldCount).toBe(0);
  });

  it('holds until the model is ready AND its proxies have ACKed the snapshot that made it ready', async () => {
    const { holds, advance, ended, counts } = setup();
    holds.observeModels([model([notReady])], 1);
    holds.observeRollouts(live(1));
    const hold = holds.hold('chat-latest', undefined);
    expect(hold.holdForMs).toBe(HOLD);
    expect(counts.at(-1)).toEqual(['chat', 1]);
    advance(5_000);
    holds.observeModels([model([ready])], 2);
    holds.observeRollouts(pendingRollout(2));
    expect(holds.heldCount).toBe(1);
    advance(300);
    holds.observeRollouts(live(2));
    expect(await hold.result).toEqual({ outcome: 'released', model: 'chat', holdForMs: HOLD, waitedMs: 5_300 });
    expect(ended).toEqual([{ outcome: 'released', model: 'chat', holdForMs: HOLD, waitedMs: 5_300 }]);
    expect(counts.at(-1)).toEqual(['chat', 0]);
  });

  it('does not take an ACK of an older snapshot for one with the ready endpoint', async () => {
    const { holds, advance } = setup();
    holds.observeModels([model([notReady])], 1);
    const hold = holds.hold('chat', undefined);
    holds.observeModels([model([ready])], 2);
    holds.observeRollouts(live(1));
    expect(holds.heldCount).toBe(1);
    // A proxy that never ACKs (or NACKs) keeps a hold at most syncGraceMs past ready.
    advance(1_999);
    expect(holds.heldCount).toBe(1);
    advance(1);
    expect(await hold.result).toMatchObject({ outcome: 'released', waitedMs: 2_000 });
  });

  it('answers a request that arrives while ready but not yet ACKed once ACKed, not at once', async () => {
    const { holds } = setup();
    holds.observeModels([model([notReady])], 1);
    holds.observeModels([model([ready])], 2);
    holds.observeRollouts(pendingRollout(2));
    const hold = holds.hold('chat', undefined);
    expect(hold.holdForMs).toBe(HOLD);
    holds.observeRollouts(live(2));
    expect((await hold.result).outcome).toBe('released');
  });

  it('waits for the holding sidecar\'s own ACK when it sent its node id, not for the others', async () => {
    const { holds, acked } = setup();
    acked.set('sidecar-a', 1);
    acked.set('sidecar-b', 1);
    holds.observeModels([model([notReady])], 1);
    const a = holds.hold('chat', undefined, 'sidecar-a');
    const b = holds.hold('chat', undefined, 'sidecar-b');
    holds.observeModels([model([ready])], 2);
    // Every proxy of the rollout has ACKed, yet sidecar-a has not: its request waits.
    acked.set('sidecar-b', 2);
    holds.observeRollouts(live(2));
    expect((await b.result).outcome).toBe('released');
    expect(holds.heldCount).toBe(1);
    // sidecar-a's ACK lets it go though the rollout is still pending (another proxy is slow).
    acked.set('sidecar-a', 2);
    holds.observeRollouts(pendingRollout(2));
    expect((await a.result).outcome).toBe('released');
  });

  it('waits the sync grace for a sidecar connected to another replica (node not known here)', async () => {
    const { holds, advance } = setup();
    holds.observeModels([model([notReady])], 1);
    const hold = holds.hold('chat', undefined, 'elsewhere');
    holds.observeModels([model([ready])], 2);
    holds.observeRollouts(live(2));
    advance(1_999);
    expect(holds.heldCount).toBe(1);
    advance(1);
    expect(await hold.result).toMatchObject({ outcome: 'released', waitedMs: 2_000 });
  });

  it('times out after holdFor', async () => {
    const { holds, advance, counts } = setup();
    holds.observeModels([model([notReady])], 1);
    const hold = holds.hold('chat', undefined);
    advance(HOLD - 1);
    expect(holds.heldCount).toBe(1);
    advance(1);
    expect(await hold.result).toEqual({ outcome: 'timed_out', model: 'chat', holdForMs: HOLD, waitedMs: HOLD });
    expect(counts.at(-1)).toEqual(['chat', 0]);
  });

  it('a shorter holdFor applies to requests already held (ending at once those held longer); a longer one only to new requests', async () => {
    const { holds, advance } = setup();
    holds.observeModels([model([notReady])], 1);
    const early = holds.hold('chat', undefined);
    advance(10_000);
    const late = holds.hold('chat', undefined);
    advance(2_000);
    holds.observeModels([model([notReady], { coldStart: { holdForMs: 11_000 } })], 2);
    // early has been held 12 s, past the new 11 s: it ends now; late ends 11 s after it came.
    advance(0);
    expect(await early.result).toEqual({ outcome: 'timed_out', model: 'chat', holdForMs: 11_000, waitedMs: 12_000 });
    advance(8_999);
    expect(holds.heldCount).toBe(1);
    advance(1);
    expect(await late.result).toEqual({ outcome: 'timed_out', model: 'chat', holdForMs: 11_000, waitedMs: 11_000 });

    const kept = holds.hold('chat', undefined);
    holds.observeModels([model([notReady], { coldStart: { holdForMs: 60_000 } })], 3);
    const longer = holds.hold('chat', undefined);
    expect(longer.holdForMs).toBe(60_000);
    advance(11_000);
    expect(await kept.result).toEqual({ outcome: 'timed_out', model: 'chat', holdForMs: 11_000, waitedMs: 11_000 });
    expect(holds.heldCount).toBe(1);
    advance(49_000);
    expect(await longer.result).toMatchObject({ outcome: 'timed_out', holdForMs: 60_000, waitedMs: 60_000 });
  });

  it('waits for the pinned version\'s own backend', async () => {
    const { holds } = setup();
    const base = model([notReady]);
    holds.observeModels([base], 1);
    const pinned = holds.hold('chat', '2');
    const split = holds.hold('chat', undefined);
    const stableReady: Model = { ...base, backends: [{ ...base.backends[0]!, endpoints: [ready] }, base.backends[1]!] };
    holds.observeModels([stableReady], 2);
    holds.observeRollouts(live(2));
    expect((await split.result).outcome).toBe('released');
    expect(holds.heldCount).toBe(1);
    holds.observeModels([{ ...stableReady, backends: [stableReady.backends[0]!, { ...base.backends[1]!, endpoints: [ready] }] }], 3);
    holds.observeRollouts(live(3));
    expect((await pinned.result).outcome).toBe('released');
  });

  it('answers at once beyond maxHeld, and counts it', async () => {
    const { holds, ended } = setup({ maxHeld: 1 });
    holds.observeModels([model([notReady])], 1);
    const first = holds.hold('chat', undefined);
    const second = holds.hold('chat', undefined);
    expect(second.holdForMs).toBeUndefined();
    expect(await second.result).toEqual({ outcome: 'overflow', model: 'chat', holdForMs: HOLD, waitedMs: 0 });
    expect(ended.map((r) => r.outcome)).toEqual(['overflow']);
    expect(holds.heldCount).toBe(1);
    first.cancel();
  });

  it('ends a hold whose caller went away', async () => {
    const { holds, advance, counts } = setup();
    holds.observeModels([model([notReady])], 1);
    const hold = holds.hold('chat', undefined);
    advance(700);
    hold.cancel();
    expect(await hold.result).toMatchObject({ outcome: 'cancelled', waitedMs: 700 });
    expect(holds.heldCount).toBe(0);
    expect(counts.at(-1)).toEqual(['chat', 0]);
  });

  it('lets held requests go when their model stops holding (policy changed or removed)', async () => {
    const { holds } = setup();
    holds.observeModels([model([notReady])], 1);
    const hold = holds.hold('chat', undefined);
    holds.observeModels([], 2);
    expect((await hold.result).outcome).toBe('released');
  });

  it('ends every hold on close and holds nothing after', async () => {
    const { holds, pending } = setup();
    holds.observeModels([model([notReady])], 1);
    const a = holds.hold('chat', undefined);
    const b = holds.hold('chat', '1');
    holds.close();
    expect((await a.result).outcome).toBe('shutdown');
    expect((await b.result).outcome).toBe('shutdown');
    expect(pending.size).toBe(0);
    expect((await holds.hold('chat', undefined).result).outcome).toBe('shutdown');
  });
});
