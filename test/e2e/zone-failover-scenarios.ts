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

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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
export function zoneFailoverScenarios(plane: string, mesh: () => Mesh, run: () => TimedRun, { failAfterMs = 1_000, calls = 1_000 }: TimelineOptions = {}, record: (measures: FailoverMeasures) => void = () => {}): void {
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
    const before = timeline.outcomes.filter((_, i) => (timeline.times[i] ?? 0) < failedAt);
    const failoverMs = settleMs(timeline, failedAt, restoredAt, isZoneB);
    const returnMs = settleMs(timeline, restoredAt, end, isZoneA);
    const measures: FailoverMeasures = {
      localShareHealthy: before.filter(isZoneA).length / Math.max(1, before.length),
      failoverMs: failoverMs ?? Number.NaN,
      failedDuringFailover: failedBetween(timeline, failedAt, restoredAt),
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
    console.log(`${plane}: zone failover ${JSON.stringify(measures)}; calls before ${counts(0, failedAt)}, failed over ${counts(failedAt, restoredAt)}, restored ${counts(restoredAt, end)}`);
    record(measures);
    expect(before.length, 'calls before the failure').toBeGreaterThan(20);
    expect(measures.localShareHealthy).toBe(1);
    expect(failoverMs, `never settled on zone-b: ${counts(failedAt, restoredAt)}`).toBeDefined();
    expect(measures.failoverMs).toBeLessThan(3_000);
    // Failures only before the failover settled (calls reaching zone-a's unloaded model before the probe).
    expect(measures.failedDuringFailover).toBe(failedBetween(timeline, failedAt, failedAt + measures.failoverMs));
    expect(returnMs, `never came back to zone-a: ${counts(restoredAt, end)}`).toBeDefined();
    expect(measures.returnMs).toBeLessThan(3_000);
    expect(measures.failedDuringReturn).toBe(0);
    expect(end - restoredAt - measures.returnMs, 'calls seen back in zone-a for at least 0.5 s').toBeGreaterThan(500);
  }, 60_000);
}
