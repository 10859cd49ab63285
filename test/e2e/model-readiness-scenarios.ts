/**
 * The issue 14 acceptance scenarios as `it`s inside the caller's describe, for any data plane (grpc-js-xds,
 * gRPC C-core, an Envoy sidecar). Tests of one describe run in order on the shared Mesh; beforeAll puts the
 * pods back as readinessPods describes them. Times are measured at the pods (model-readiness-support.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { FakeModelServer } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import type { Mesh } from '../support/mesh.ts';
import {
  arrivals,
  LATE_POD,
  LATE_TF_POD,
  LOADING_POD,
  PROBE_INTERVAL_MS,
  watch,
  WITHIN_MS,
  type DataPlane,
  type Tally,
} from './model-readiness-support.ts';

/** An endpoint as /status shows it per model (src/status/model-endpoints.ts). */
interface StatusEndpoint {
  address: string;
  pod?: string;
  health: string;
  state: string;
  reason?: string;
  fallback?: string;
}

/** Every endpoint /status shows for `model`, found wherever the per-model view sits in the document. */
export async function statusEndpoints(adminPort: number, model: string): Promise<StatusEndpoint[]> {
  const response = await fetch(`http://127.0.0.1:${adminPort}/status`);
  const found: StatusEndpoint[] = [];
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (typeof value !== 'object' || value === null) return;
    const record = value as Record<string, unknown>;
    if (record['model'] === model && Array.isArray(record['backends'])) {
      for (const backend of record['backends'] as { endpoints?: StatusEndpoint[] }[]) found.push(...(backend.endpoints ?? []));
      return;
    }
    Object.values(record).forEach(visit);
  };
  visit(await response.json());
  return found;
}

/** The state /status gives `pod` for `model`. */
async function stateOf(adminPort: number, model: string, pod: string): Promise<string | undefined> {
  return (await statusEndpoints(adminPort, model)).find((endpoint) => endpoint.pod === pod)?.state;
}

/** Figures the scenarios measured, by data plane, printed after the file for the README. */
export const figures: Record<string, Record<string, number>> = {};

/**
 * Calls in a batch that spans a load or an unload: 5-8 s at 2 ms apart, so calls still flow after every
 * watch window ends (asserted: traffic after the window), whatever the data plane's speed.
 */
const CALLS = 1_500;

/** Envoy's default common_lb_config.update_merge_window, plus a margin. */
const ENVOY_MERGE_WINDOW_MS = 1_200;

/** Resolves once `pod` got a call, so a batch started in the background is really flowing. */
async function flowing(pod: FakeModelServer, model: string, timeoutMs = 15_000): Promise<void> {
  await watch(pod, model).firstArrival(performance.now(), timeoutMs);
}

/** resnet50 calls the pods that keep it have had. */
function served(mesh: Mesh): number {
  return mesh.pod('multi-a').requestsFor('resnet50') + mesh.pod('multi-b').requestsFor('resnet50');
}

export function readinessScenarios(mesh: () => Mesh, plane: DataPlane, adminPort: () => number = () => mesh().server.adminPort): void {
  const record = (name: string, ms: number) => ((figures[plane.name] ??= {})[name] = Math.round(ms));

  beforeAll(async () => {
    const late = mesh().pod(LATE_POD);
    late.unload('resnet50');
    mesh().pod(LOADING_POD).unload('inception');
    await eventually(async () => expect(await stateOf(adminPort(), 'resnet50', LATE_POD)).toBe('not-loaded'), { timeoutMs: 10 * PROBE_INTERVAL_MS + 5_000 });
    await eventually(async () => expect(await stateOf(adminPort(), 'inception', LOADING_POD)).toBe('not-loaded'), { timeoutMs: 10 * PROBE_INTERVAL_MS + 5_000 });
    mesh().pod(LATE_TF_POD).unload('bert');
    await eventually(async () => expect(await stateOf(adminPort(), 'bert', LATE_TF_POD)).toBe('not-loaded'), { timeoutMs: 10 * PROBE_INTERVAL_MS + 5_000 });
  });

  afterAll(() => {
    console.log(`model readiness figures, ${plane.name}: ${JSON.stringify(figures[plane.name] ?? {})}`);
  });

  it('sends none of 1,000 resnet50 calls to the pod that has not loaded it', async () => {
    const tally = await plane.batch('resnet50', 1000, { 'x-model': 'resnet50' });
    expect(tally.errors).toEqual({});
    expect(tally.pods[LATE_POD]).toBeUndefined();
    expect((tally.pods['multi-a'] ?? 0) + (tally.pods['multi-b'] ?? 0)).toBe(1000);
    // 3.5 standard deviations of a binomial(1000, 0.5) is about 55 calls.
    expect(tally.pods['multi-a']).toBeGreaterThan(500 - 55);
    expect(tally.pods['multi-b']).toBeGreaterThan(500 - 55);
  });

  it(`sends it traffic within 2 probe intervals (${PROBE_INTERVAL_MS} ms each) of its loading the model`, async () => {
    const late = mesh().pod(LATE_POD);
    const batch = plane.batch('resnet50', CALLS, { 'x-model': 'resnet50' }, { gapMs: 2 });
    await flowing(mesh().pod('multi-a'), 'resnet50');
    const started = performance.now();
    await late.load('resnet50');
    const ms = await watch(late, 'resnet50').firstArrival(started, WITHIN_MS + 3_000);
    const tally = await batch;
    record('trafficAfterLoadMs', ms);
    expect(tally.errors).toEqual({});
    expect(tally.pods[LATE_POD]).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(WITHIN_MS);
  });

  it('stops its traffic within 2 probe intervals of its unloading the model; no call naming its version fails (retried: UNAVAILABLE)', async () => {
    const late = mesh().pod(LATE_POD);
    const batch = plane.batch('resnet50', CALLS, { 'x-model': 'resnet50' }, { gapMs: 2, version: '1' });
    await flowing(late, 'resnet50');
    const before = arrivals(late, 'resnet50');
    const started = performance.now();
    late.unload('resnet50');
    const last = await watch(late, 'resnet50').lastArrival(started, WITHIN_MS + 1_000);
    const reached = arrivals(late, 'resnet50') - before;
    const others = served(mesh());
    const tally = await batch;
    // The batch outlasted the window: the pod was skipped by calls still flowing, not by calls ending.
    expect(served(mesh())).toBeGreaterThan(others);
    record('lastCallAfterUnloadMs', last);
    record('callsReachingUnloadedPod', reached);
    expect(tally.errors).toEqual({});
    expect(last).toBeLessThanOrEqual(WITHIN_MS);
  });

  it('calls naming no version fail only NOT_FOUND from the unloaded pod, only in the gap before the next probe', async () => {
    const late = mesh().pod(LATE_POD);
    await late.load('resnet50');
    await eventually(async () => expect(await stateOf(adminPort(), 'resnet50', LATE_POD)).toBe('ready'), { timeoutMs: WITHIN_MS + 5_000 });
    // Envoy merges endpoint updates that change only health into one per update_merge_window (1 s by
    // default, counted from the last update): an unload right after the load's update would wait for it.
    await new Promise((resolve) => setTimeout(resolve, ENVOY_MERGE_WINDOW_MS));
    const batch = plane.batch('resnet50', CALLS, { 'x-model': 'resnet50' }, { gapMs: 2 });
    await flowing(late, 'resnet50');
    const before = arrivals(late, 'resnet50');
    const started = performance.now();
    late.unload('resnet50');
    const last = await watch(late, 'resnet50').lastArrival(started, WITHIN_MS + 1_000);
    const reached = arrivals(late, 'resnet50') - before;
    const others = served(mesh());
    const tally: Tally = await batch;
    expect(served(mesh())).toBeGreaterThan(others);
    record('unversionedFailuresInGap', tally.errors['NOT_FOUND'] ?? 0);
    expect(Object.keys(tally.errors).filter((code) => code !== 'NOT_FOUND')).toEqual([]);
    if (tally.errors['NOT_FOUND']) expect(tally.messages['NOT_FOUND']).toContain("'resnet50' has no available versions");
    // Every failure is a call that reached the unloaded pod, and none reached it after 2 intervals.
    expect(tally.errors['NOT_FOUND'] ?? 0).toBeLessThanOrEqual(reached);
    expect(last).toBeLessThanOrEqual(WITHIN_MS);
  });

  it('sends no version-pinned call to a version while it is loading, and sends them once it is ready', async () => {
    const loading = mesh().pod(LOADING_POD);
    const base = arrivals(loading, 'inception');
    const ready = loading.load('inception', '2', { loadingMs: 4 * PROBE_INTERVAL_MS });
    await eventually(async () => expect(await stateOf(adminPort(), 'inception', LOADING_POD)).toBe('loading'), { timeoutMs: WITHIN_MS + 5_000 });
    const pinned = { 'x-model': 'inception', 'x-model-version': '2' };
    // Long enough to outlast the loading (4 intervals) and the watch window after it, at 5 ms apart.
    const batch = plane.batch('inception', Math.ceil((8 * PROBE_INTERVAL_MS) / 5), pinned, { gapMs: 5, version: '2' });
    await ready;
    const readyAt = performance.now();
    const reachedWhileLoading = arrivals(loading, 'inception') - base;
    const ms = await watch(loading, 'inception').firstArrival(readyAt, WITHIN_MS + 3_000);
    const tally = await batch;
    record('pinnedTrafficAfterReadyMs', ms);
    expect(reachedWhileLoading).toBe(0);
    expect(ms).toBeLessThanOrEqual(WITHIN_MS);
    expect(tally.pods[LOADING_POD]).toBeGreaterThan(0);
    // Only the v2 pod may serve a call pinned to v2; calls before it was ready fail without reaching a pod.
    expect(Object.keys(tally.pods)).toEqual([LOADING_POD]);
    expect(Object.keys(tally.errors).filter((code) => code !== 'UNAVAILABLE')).toEqual([]);
  });

  it('keeps routing a model by pod readiness when its probe port is closed, and /status says why', async () => {
    await eventually(
      async () => {
        const endpoints = await statusEndpoints(adminPort(), 'mnist');
        expect(endpoints).toHaveLength(2);
        for (const endpoint of endpoints) expect(endpoint).toMatchObject({ state: 'probe-failing', health: 'healthy', fallback: expect.any(String), reason: expect.any(String) });
      },
      { timeoutMs: 10 * PROBE_INTERVAL_MS + 5_000 },
    );
    const tally = await plane.batch('mnist', 200, { 'x-model': 'mnist' });
    expect(tally.errors).toEqual({});
    expect(tally.pods['mnist-a']).toBeGreaterThan(50);
    expect(tally.pods['mnist-b']).toBeGreaterThan(50);
  });

  it('TF Serving: sends none of 300 bert calls to the pod without it, and traffic within 2 probe intervals of its loading it', async () => {
    const tally = await plane.batch('bert', 300, { 'x-model': 'bert' }, { kind: 'tfserving' });
    expect(tally.errors).toEqual({});
    expect(tally.pods[LATE_TF_POD]).toBeUndefined();
    expect((tally.pods['bert-a'] ?? 0) + (tally.pods['bert-b'] ?? 0)).toBe(300);
    const late = mesh().pod(LATE_TF_POD);
    const batch = plane.batch('bert', CALLS, { 'x-model': 'bert' }, { kind: 'tfserving', gapMs: 2 });
    await flowing(mesh().pod('bert-a'), 'bert');
    const started = performance.now();
    await late.load('bert');
    const ms = await watch(late, 'bert').firstArrival(started, WITHIN_MS + 3_000);
    const loaded = await batch;
    record('tfServingTrafficAfterLoadMs', ms);
    expect(loaded.errors).toEqual({});
    expect(ms).toBeLessThanOrEqual(WITHIN_MS);
  });

  it('TF Serving: stops traffic within 2 probe intervals of an unload; calls fail only NOT_FOUND in the gap (no retry condition names it)', async () => {
    const late = mesh().pod(LATE_TF_POD);
    await new Promise((resolve) => setTimeout(resolve, ENVOY_MERGE_WINDOW_MS));
    const batch = plane.batch('bert', CALLS, { 'x-model': 'bert' }, { kind: 'tfserving', gapMs: 2 });
    await flowing(late, 'bert');
    const before = arrivals(late, 'bert');
    const started = performance.now();
    late.unload('bert');
    const last = await watch(late, 'bert').lastArrival(started, WITHIN_MS + 1_000);
    const reached = arrivals(late, 'bert') - before;
    const others = mesh().pod('bert-a').requestsFor('bert');
    const tally = await batch;
    expect(mesh().pod('bert-a').requestsFor('bert')).toBeGreaterThan(others);
    record('tfServingLastCallAfterUnloadMs', last);
    record('tfServingFailuresInGap', tally.errors['NOT_FOUND'] ?? 0);
    expect(Object.keys(tally.errors).filter((code) => code !== 'NOT_FOUND')).toEqual([]);
    expect(tally.errors['NOT_FOUND'] ?? 0).toBeLessThanOrEqual(reached);
    expect(last).toBeLessThanOrEqual(WITHIN_MS);
  });
}
