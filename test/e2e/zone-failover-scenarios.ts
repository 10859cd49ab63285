/**
 * Zone failover scenarios every data plane runs (an Envoy sidecar in test/sidecar/zone-failover.test.ts, the
 * proxyless gRPC clients in test/interop/zone-failover-proxyless.test.ts): two pods in zone-a, two in zone-b,
 * a caller in zone-a. While zone-a serves, every call stays there; when both zone-a pods unload the model (the
 * control plane's probe marks them UNHEALTHY, so the caller's priority 0 has no healthy endpoint) calls move
 * to zone-b; when they load it again calls come back. A model without zoneFailover on the same pods spreads
 * over both zones. Measured from one timeline of calls: share to the local zone, failover and return times,
 * calls failed meanwhile.
 */
import * as grpc from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import { tritonInfer, type TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import type { Mesh, PodSpec } from '../support/mesh.ts';

export const ZONED_MODEL = 'zonal';
export const SPREAD_MODEL = 'spread';
export const CALLER_ZONE = 'zone-a';
/** The control planes probe this often; the failover waits for a probe, then for a push. */
export const ZONE_PROBE_INTERVAL_MS = 300;

export const ZONE_POLICIES: Record<string, string> = {
  // Outlier detection off: the calls failing in the gap before a probe must not eject pods for the return.
  'zonal-policy': `
model: ${ZONED_MODEL}
server: triton
protocol: grpc
backends: [{ name: main, service: zonal, port: grpc }]
outlierDetection: null
retries: { attempts: 0 }
zoneFailover: { enabled: true }
`,
  'spread-policy': `
model: ${SPREAD_MODEL}
server: triton
protocol: grpc
backends: [{ name: main, service: zonal, port: grpc }]
`,
};

/** Pods `za-0`, `za-1` (zone-a) and `zb-0`, `zb-1` (zone-b) on four consecutive addresses from `first`. */
export function zonePods(first: string): PodSpec[] {
  const base = first.slice(0, first.lastIndexOf('.') + 1);
  const octet = Number(first.slice(first.lastIndexOf('.') + 1));
  return (['za-0', 'za-1', 'zb-0', 'zb-1'] as const).map((pod, i) => ({
    kind: 'triton',
    host: `${base}${octet + i}`,
    pod,
    service: 'zonal',
    models: [ZONED_MODEL, SPREAD_MODEL],
    version: '1',
    zone: pod.startsWith('za') ? 'zone-a' : 'zone-b',
  }));
}

/** Calls in order: when each started (ms since the epoch) and the pod that answered or the error code. */
export interface Timeline {
  times: number[];
  outcomes: string[];
}

/** `calls` calls of `model`, one at a time, `gapMs` apart, through one channel of the data plane under test. */
export type TimedRun = (model: string, calls: number, gapMs: number) => Promise<Timeline>;

/** A TimedRun over one @grpc/grpc-js channel (to a sidecar, or xds:/// with grpc-js-xds): one call after another. */
export function channelRun(client: () => TritonClient, headers: (model: string) => Record<string, string>): TimedRun {
  return async (model, calls, gapMs) => {
    const timeline = { times: [] as number[], outcomes: [] as string[] };
    for (let i = 0; i < calls; i++) {
      if (i > 0 && gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      timeline.times.push(Date.now());
      try {
        timeline.outcomes.push((await tritonInfer(client(), model, { metadata: headers(model), timeoutMs: 5_000 })).pod);
      } catch (error) {
        const code = (error as grpc.ServiceError).code;
        timeline.outcomes.push(code === undefined ? String(error) : grpc.status[code] ?? String(code));
      }
    }
    return timeline;
  };
}

/** What the failover test measured, per data plane (printed, and in the report). */
export interface FailoverMeasures {
  localShareHealthy: number;
  failoverMs: number;
  failedDuringFailover: number;
  returnMs: number;
  failedDuringReturn: number;
}

const isZoneA = (outcome: string) => outcome.startsWith('za-');
const isZoneB = (outcome: string) => outcome.startsWith('zb-');

/** From `from`: the time until the calls, up to `until`, all satisfy `settled` (undefined: they never do). */
function settleMs(timeline: Timeline, from: number, until: number, settled: (outcome: string) => boolean): number | undefined {
  const window = timeline.times.map((at, i) => ({ at, outcome: timeline.outcomes[i] ?? '' })).filter(({ at }) => at >= from && at < until);
  let firstSettled: number | undefined;
  for (const { at, outcome } of window) {
    if (!settled(outcome)) firstSettled = undefined;
    else firstSettled ??= at;
  }
  return firstSettled === undefined ? undefined : firstSettled - from;
}

function failedBetween(timeline: Timeline, from: number, until: number): number {
  return timeline.times.filter((at, i) => at >= from && at < until && !isZoneA(timeline.outcomes[i] ?? '') && !isZoneB(timeline.outcomes[i] ?? '')).length;
}

/** Longer than any call here takes (a few ms): a call started this long before an event was answered before it. */
const IN_FLIGHT_MS = 100;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The share of calls a data plane sends to other zones while half of the caller's zone is unhealthy. Envoy
 * spills part of the load to priority 1 as soon as priority 0 is less than 100/1.4 = ~71% healthy (its
 * default overprovisioning factor): with 1 of 2 pods healthy, 50% x 1.4 = 70% stays, 30% goes to zone-b.
 * gRPC's priority policy (gRFC A27) moves to priority 1 only when priority 0 has no ready endpoint.
 */
export interface PartialFailure {
  minRemoteShare: number;
  maxRemoteShare: number;
}

export const ENVOY_PARTIAL: PartialFailure = { minRemoteShare: 0.15, maxRemoteShare: 0.45 };
export const GRPC_PARTIAL: PartialFailure = { minRemoteShare: 0, maxRemoteShare: 0 };

export interface TimelineOptions {
  /** When the zone-a pods fail, from the start of the timeline (a client process needs time to start). Default 1 s. */
  failAfterMs?: number;
  /** Calls in the timeline, 5 ms apart; enough to outlast the failure (3 s) by more than 1 s. Default 1,000. */
  calls?: number;
}

/**
 * The scenarios, as `it`s inside the caller's describe. `plane` names the data plane in the printed line;
 * `record` receives the measures.
 */
export function zoneFailoverScenarios(
  plane: string,
  mesh: () => Mesh,
  run: () => TimedRun,
  partial: PartialFailure,
  { failAfterMs = 1_000, calls = 1_000 }: TimelineOptions = {},
  record: (measures: FailoverMeasures) => void = () => {},
): void {
  const zoneA = () => mesh().specs.filter((spec) => spec.zone === 'zone-a').map((spec) => mesh().pod(spec.pod));

  it('while zone-a serves, every call from zone-a goes to zone-a; a model without zoneFailover spreads over both zones', async () => {
    // Until the first probe and push, the caller may not have its zone's assignment yet.
    await eventually(async () => expect((await run()(ZONED_MODEL, 20, 0)).outcomes.every(isZoneA)).toBe(true), { timeoutMs: 20_000, intervalMs: 200 });
    const { outcomes } = await run()(ZONED_MODEL, 200, 0);
    expect(outcomes.filter(isZoneA).length, outcomes.join(' ')).toBe(200);
    const spread = await run()(SPREAD_MODEL, 100, 0);
    expect(spread.outcomes.filter(isZoneA).length, spread.outcomes.join(' ')).toBeGreaterThan(10);
    expect(spread.outcomes.filter(isZoneB).length, spread.outcomes.join(' ')).toBeGreaterThan(10);
  }, 60_000);

  it('zone-a unloads the model: calls fail over to zone-b within 3 s, failures only in that gap; it loads it again: calls return within 3 s', async () => {
    const pods = zoneA();
    // One timeline of calls 5 ms apart; the pods fail at +failAfterMs and recover 3 s later.
    const pending = run()(ZONED_MODEL, calls, 5);
    let failedAt = 0;
    let restoredAt = 0;
    try {
      await delay(failAfterMs);
      failedAt = Date.now();
      for (const pod of pods) pod.unload(ZONED_MODEL);
      await delay(3_000);
      restoredAt = Date.now();
      for (const pod of pods) await pod.load(ZONED_MODEL);
    } finally {
      for (const pod of pods) if (!pod.models().some((entry) => entry.model === ZONED_MODEL && entry.state === 'ready')) await pod.load(ZONED_MODEL);
    }
    const timeline = await pending;
    const end = (timeline.times.at(-1) ?? 0) + 1;
    // A call is stamped when it starts: one started just before the unload may be answered after it.
    const unloading = failedAt - IN_FLIGHT_MS;
    const before = timeline.outcomes.filter((_, i) => (timeline.times[i] ?? 0) < unloading);
    const failoverMs = settleMs(timeline, failedAt, restoredAt, isZoneB);
    const returnMs = settleMs(timeline, restoredAt, end, isZoneA);
    const measures: FailoverMeasures = {
      localShareHealthy: before.filter(isZoneA).length / Math.max(1, before.length),
      failoverMs: failoverMs ?? Number.NaN,
      failedDuringFailover: failedBetween(timeline, unloading, restoredAt),
      returnMs: returnMs ?? Number.NaN,
      failedDuringReturn: failedBetween(timeline, restoredAt, end),
    };
    const counts = (from: number, until: number) => {
      const tally: Record<string, number> = {};
      timeline.times.forEach((at, i) => {
        if (at >= from && at < until) tally[timeline.outcomes[i] ?? ''] = (tally[timeline.outcomes[i] ?? ''] ?? 0) + 1;
      });
      return JSON.stringify(tally);
    };
    console.log(`${plane}: zone failover ${JSON.stringify(measures)}; calls before ${counts(0, unloading)}, failed over ${counts(failedAt, restoredAt)}, restored ${counts(restoredAt, end)}`);
    record(measures);
    expect(before.length, 'calls before the failure').toBeGreaterThan(20);
    expect(measures.localShareHealthy).toBe(1);
    expect(failoverMs, `never settled on zone-b: ${counts(failedAt, restoredAt)}`).toBeDefined();
    expect(measures.failoverMs).toBeLessThan(3_000);
    // Failures only before the failover settled (calls reaching zone-a's unloaded model before the probe).
    expect(measures.failedDuringFailover).toBe(failedBetween(timeline, unloading, failedAt + measures.failoverMs));
    expect(returnMs, `never came back to zone-a: ${counts(restoredAt, end)}`).toBeDefined();
    expect(measures.returnMs).toBeLessThan(3_000);
    expect(measures.failedDuringReturn).toBe(0);
    expect(end - restoredAt - measures.returnMs, 'calls seen back in zone-a for at least 0.5 s').toBeGreaterThan(500);
  }, 60_000);

  it(`one of the two zone-a pods unloads: ${partial.maxRemoteShare === 0 ? 'every call stays on the other zone-a pod' : `${partial.minRemoteShare * 100}-${partial.maxRemoteShare * 100}% of calls spill to zone-b`}`, async () => {
    const [down] = zoneA();
    if (!down) throw new Error('no zone-a pod');
    down.unload(ZONED_MODEL);
    try {
      // Until the probe has marked it UNHEALTHY, the calls it takes fail NOT_FOUND.
      await eventually(async () => expect((await run()(ZONED_MODEL, 20, 0)).outcomes.filter((o) => !isZoneA(o) && !isZoneB(o))).toEqual([]), { timeoutMs: 10_000, intervalMs: 100 });
      const { outcomes } = await run()(ZONED_MODEL, 300, 0);
      const remote = outcomes.filter(isZoneB).length / outcomes.length;
      console.log(`${plane}: 1 of 2 zone-a pods unhealthy: ${(100 * remote).toFixed(1)}% of 300 calls to zone-b`);
      expect(outcomes.filter((o) => !isZoneA(o) && !isZoneB(o)), 'failed calls').toEqual([]);
      expect(remote).toBeGreaterThanOrEqual(partial.minRemoteShare);
      expect(remote).toBeLessThanOrEqual(partial.maxRemoteShare);
    } finally {
      await down.load(ZONED_MODEL);
    }
    await eventually(async () => expect((await run()(ZONED_MODEL, 20, 0)).outcomes.every(isZoneA)).toBe(true), { timeoutMs: 10_000, intervalMs: 100 });
  }, 60_000);
}
