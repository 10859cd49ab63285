import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { ProbeError } from '../../src/probe/bounded-http.ts';
import { Prober, type ProberOptions, type ProberTimers } from '../../src/probe/prober.ts';
import { modelRefKey, type ModelAnswer, type ModelRef, type ProbePod, type ProbeTarget } from '../../src/probe/types.ts';

/** Timers under the test's control: nothing fires until advance(). */
class ManualTimers implements ProberTimers {
  now = 0;
  #next = 0;
  readonly tasks = new Map<number, { at: number; callback: () => void }>();
  set(callback: () => void, ms: number): unknown {
    this.#next += 1;
    this.tasks.set(this.#next, { at: this.now + ms, callback });
    return this.#next;
  }
  clear(handle: unknown): void {
    this.tasks.delete(handle as number);
  }
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      let first: [number, { at: number; callback: () => void }] | undefined;
      for (const entry of this.tasks) if (entry[1].at <= end && (first === undefined || entry[1].at < first[1].at)) first = entry;
      if (first === undefined) break;
      this.tasks.delete(first[0]);
      this.now = first[1].at;
      first[1].callback();
      await settle();
    }
    this.now = end;
    await settle();
  }
}

function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

interface Call {
  target: ProbeTarget;
  signal: AbortSignal;
  resolve(answers: Record<string, ModelAnswer>): void;
  reject(error: Error): void;
}

/** A ProbePod whose every call waits for the test to answer it. */
function manualProbe(): { probe: ProbePod; calls: Call[]; pending: () => Call[] } {
  const calls: Call[] = [];
  const done = new Set<Call>();
  const probe: ProbePod = (target, signal) =>
    new Promise((resolve, reject) => {
      const call: Call = {
        target,
        signal,
        resolve: (answers) => {
          done.add(call);
          resolve(new Map(Object.entries(answers)));
        },
        reject: (error) => {
          done.add(call);
          reject(error);
        },
      };
      signal.addEventListener('abort', () => done.add(call));
      calls.push(call);
    });
  return { probe, calls, pending: () => calls.filter((call) => !done.has(call)) };
}

const resnet: ModelRef = { model: 'resnet50' };
const bertV2: ModelRef = { model: 'bert', version: '2' };
const READY: ModelAnswer = { state: 'ready' };
const UNLOADED: ModelAnswer = { state: 'not-loaded', reason: 'UNAVAILABLE: unloaded' };

function target(n: number, models: ModelRef[] = [resnet]): ProbeTarget {
  return { server: 'triton', address: `127.0.0.${220 + n}`, port: 8000, models };
}

const open: Prober[] = [];
afterEach(() => {
  for (const prober of open.splice(0)) prober.close();
});

function start(options: Partial<ProberOptions> = {}) {
  const timers = new ManualTimers();
  const triton = manualProbe();
  const tfserving = manualProbe();
  const prober = new Prober({
    intervalMs: 1000,
    timeoutMs: 200,
    jitter: 0,
    timers,
    now: () => timers.now,
    probes: { triton: triton.probe, tfserving: tfserving.probe },
    ...options,
  });
  open.push(prober);
  let notified = 0;
  prober.subscribe(() => (notified += 1));
  return { prober, timers, triton, tfserving, notifications: () => notified };
}

describe('Prober', () => {
  it('probes new pods at once, answers lookups, and notifies once for the whole round', async () => {
    const { prober, triton, notifications } = start();
    prober.setTargets([target(0, [resnet, bertV2]), target(1), target(2)]);
    expect(triton.calls).toHaveLength(3);
    expect(triton.calls[0]?.target.models).toEqual([resnet, bertV2]);
    expect(prober.lookup('127.0.0.220', 8000, resnet)).toBeUndefined();

    triton.calls[0]?.resolve({ [modelRefKey(resnet)]: READY, [modelRefKey(bertV2)]: { state: 'loading', reason: 'LOADING' } });
    triton.calls[1]?.resolve({ [modelRefKey(resnet)]: UNLOADED });
    await settle();
    expect(notifications()).toBe(0); // one probe of the round still running
    triton.calls[2]?.resolve({ [modelRefKey(resnet)]: READY });
    await settle();
    expect(notifications()).toBe(1);

    expect(prober.lookup('127.0.0.220', 8000, resnet)).toEqual({ state: 'ready' });
    expect(prober.lookup('127.0.0.220', 8000, bertV2)).toEqual({ state: 'loading', reason: 'LOADING' });
    expect(prober.lookup('127.0.0.220', 8000, { model: 'bert' })).toBeUndefined();
    expect(prober.lookup('127.0.0.221', 8000, resnet)).toEqual(UNLOADED);
    expect(prober.lookup('127.0.0.221', 8001, resnet)).toBeUndefined();
  });

  it('notifies no later than maxNotifyDelayMs when another probe hangs', async () => {
    const { prober, timers, triton, notifications } = start({ maxNotifyDelayMs: 50, timeoutMs: 10_000 });
    prober.setTargets([target(0), target(1)]);
    triton.calls[0]?.resolve({ [modelRefKey(resnet)]: READY });
    await settle();
    expect(notifications()).toBe(0);
    await timers.advance(50);
    expect(notifications()).toBe(1);
  });

  it('never notifies while nothing changes, and once when one answer changes', async () => {
    const { prober, timers, triton, notifications } = start();
    prober.setTargets([target(0), target(1)]);
    for (const call of triton.pending()) call.resolve({ [modelRefKey(resnet)]: READY });
    await settle();
    expect(notifications()).toBe(1);
    for (let round = 0; round < 3; round++) {
      await timers.advance(1000);
      expect(triton.pending()).toHaveLength(2);
      for (const call of triton.pending()) call.resolve({ [modelRefKey(resnet)]: READY });
      await settle();
    }
    expect(notifications()).toBe(1);
    await timers.advance(1000);
    triton.pending()[0]?.resolve({ [modelRefKey(resnet)]: UNLOADED });
    triton.pending()[0]?.resolve({ [modelRefKey(resnet)]: READY });
    await settle();
    expect(notifications()).toBe(2);
    expect(triton.calls).toHaveLength(10);
  });

  it('keeps at most `concurrency` probes in flight and starts the next as one ends', async () => {
    const { prober, triton } = start({ concurrency: 2 });
    prober.setTargets([0, 1, 2, 3, 4].map((n) => target(n)));
    expect(triton.calls).toHaveLength(2);
    expect(prober.inFlight).toBe(2);
    triton.calls[0]?.resolve({});
    await settle();
    expect(triton.calls).toHaveLength(3);
    expect(prober.inFlight).toBe(2);
    triton.calls[1]?.reject(new Error('refused'));
    triton.calls[2]?.resolve({});
    await settle();
    expect(triton.calls).toHaveLength(5);
    expect(triton.calls.map((call) => call.target.address)).toEqual([0, 1, 2, 3, 4].map((n) => `127.0.0.${220 + n}`));
    expect(prober.inFlight).toBe(2);
  });

  it('probes each pod once per interval, jittered by the injected random', async () => {
    let random = 0;
    const { prober, timers, triton } = start({ jitter: 0.2, random: () => random });
    prober.setTargets([target(0)]);
    triton.calls[0]?.resolve({});
    await settle();
    await timers.advance(799);
    expect(triton.calls).toHaveLength(1);
    await timers.advance(1);
    expect(triton.calls).toHaveLength(2);
    random = 1;
    triton.calls[1]?.resolve({});
    await settle();
    await timers.advance(1199);
    expect(triton.calls).toHaveLength(2);
    await timers.advance(1);
    expect(triton.calls).toHaveLength(3);
  });

  it('forgets removed pods (aborting their probe) and asks at once about models newly routed to a known pod', async () => {
    const { prober, timers, triton } = start();
    prober.setTargets([target(0), target(1)]);
    triton.calls[0]?.resolve({ [modelRefKey(resnet)]: READY });
    await settle();
    prober.setTargets([target(0)]);
    expect(triton.calls[1]?.signal.aborted).toBe(true);
    expect(prober.lookup('127.0.0.221', 8000, resnet)).toBeUndefined();

    prober.setTargets([target(0, [resnet, bertV2])]);
    expect(triton.calls).toHaveLength(3);
    expect(triton.calls[2]?.target.models).toEqual([resnet, bertV2]);
    expect(prober.lookup('127.0.0.220', 8000, resnet)).toEqual({ state: 'ready' }); // kept meanwhile
    triton.calls[2]?.resolve({ [modelRefKey(resnet)]: READY, [modelRefKey(bertV2)]: READY });
    await settle();
    await timers.advance(1000);
    expect(triton.calls.filter((call) => call.target.address === '127.0.0.221')).toHaveLength(1);

    // Removing a model drops its answer; a model added while a probe runs is asked about right after it.
    const running = triton.pending();
    expect(running).toHaveLength(1);
    prober.setTargets([target(0, [bertV2, { model: 'gpt' }])]);
    expect(prober.lookup('127.0.0.220', 8000, resnet)).toBeUndefined();
    expect(triton.pending()).toHaveLength(1);
    const before = triton.calls.length;
    running[0]?.resolve({ [modelRefKey(bertV2)]: READY });
    await settle();
    expect(triton.calls).toHaveLength(before + 1);
    expect(triton.calls.at(-1)?.target.models).toEqual([bertV2, { model: 'gpt' }]);
  });

  it('merges targets naming the same pod and routes each kind to its probe', async () => {
    const { prober, triton, tfserving } = start();
    prober.setTargets([
      target(0, [resnet]),
      target(0, [bertV2, resnet]),
      { server: 'tfserving', address: '127.0.0.225', port: 8501, models: [resnet] },
    ]);
    expect(triton.calls).toHaveLength(1);
    expect(triton.calls[0]?.target.models).toEqual([resnet, bertV2]);
    expect(tfserving.calls).toHaveLength(1);
    tfserving.calls[0]?.resolve({ [modelRefKey(resnet)]: { state: 'loading', reason: 'START' } });
    await settle();
    expect(prober.lookup('127.0.0.225', 8501, resnet)).toEqual({ state: 'loading', reason: 'START' });
  });

  it('marks a pod probe-failing after N consecutive failures and restores it after M successes', async () => {
    const { prober, timers, triton, notifications } = start({ failuresToMark: 3, successesToRestore: 2 });
    prober.setTargets([target(0), target(1)]);
    triton.pending()[0]?.resolve({ [modelRefKey(resnet)]: READY });
    triton.pending()[0]?.reject(new Error('connect ECONNREFUSED'));
    await settle();
    expect(notifications()).toBe(1);
    expect(prober.lookup('127.0.0.221', 8000, resnet)).toBeUndefined(); // never answered: pod readiness

    const round = async (pod0: 'ok' | 'fail', pod1: 'ok' | 'fail'): Promise<void> => {
      await timers.advance(1000);
      const [first, second] = triton.pending();
      const answer = (call: Call | undefined, how: 'ok' | 'fail', n: number) =>
        how === 'ok' ? call?.resolve({ [modelRefKey(resnet)]: READY }) : call?.reject(new Error(`HTTP 503 #${n}`));
      answer(first, pod0, 0);
      answer(second, pod1, 1);
      await settle();
    };
    await round('fail', 'fail');
    expect(prober.lookup('127.0.0.220', 8000, resnet)).toEqual({ state: 'ready' }); // last answer stands
    expect(prober.lookup('127.0.0.221', 8000, resnet)).toBeUndefined();
    expect(notifications()).toBe(1);
    await round('fail', 'fail');
    expect(prober.lookup('127.0.0.220', 8000, resnet)).toEqual({ state: 'ready' });
    expect(prober.lookup('127.0.0.221', 8000, resnet)).toEqual({ state: 'probe-failing', reason: 'HTTP 503 #1' });
    expect(notifications()).toBe(2);
    await round('fail', 'ok');
    expect(prober.lookup('127.0.0.220', 8000, resnet)).toEqual({ state: 'probe-failing', reason: 'HTTP 503 #0' });
    expect(prober.lookup('127.0.0.221', 8000, resnet)).toEqual({ state: 'probe-failing', reason: 'HTTP 503 #1' });
    expect(notifications()).toBe(3);
    await round('ok', 'ok');
    expect(prober.lookup('127.0.0.220', 8000, resnet)?.state).toBe('probe-failing');
    expect(prober.lookup('127.0.0.221', 8000, resnet)).toEqual({ state: 'ready' });
    expect(notifications()).toBe(4);
    await round('fail', 'ok');
    await round('ok', 'ok');
    expect(prober.lookup('127.0.0.220', 8000, resnet)?.state).toBe('probe-failing');
    expect(notifications()).toBe(4);
    await round('ok', 'ok');
    expect(prober.lookup('127.0.0.220', 8000, resnet)).toEqual({ state: 'ready' });
    expect(notifications()).toBe(5);
  });

  it('cuts a probe that hangs and ignores its signal at the timeout, and counts it', async () => {
    const metrics = createMetrics();
    const { prober, timers } = start({
      failuresToMark: 1,
      metrics,
      probes: { triton: () => new Promise(() => undefined), tfserving: () => Promise.resolve(new Map()) },
    });
    prober.setTargets([target(0)]);
    await timers.advance(199);
    expect(prober.inFlight).toBe(1);
    await timers.advance(1);
    expect(prober.inFlight).toBe(0);
    expect(prober.lookup('127.0.0.220', 8000, resnet)).toEqual({ state: 'probe-failing', reason: 'timed out after 200 ms' });
    const counted = await metrics.probeRequests.get();
    expect(counted.values).toEqual([{ labels: { server: 'triton', result: 'timeout' }, value: 1 }]);
    const seconds = await metrics.probeSeconds.get();
    expect(seconds.values.find((value) => value.metricName === 'infermesh_probe_duration_seconds_sum')?.value).toBeCloseTo(0.2);
  });

  it('counts results by kind of failure', async () => {
    const metrics = createMetrics();
    const { prober, triton } = start({ metrics });
    prober.setTargets([target(0), target(1), target(2)]);
    triton.calls[0]?.resolve({});
    triton.calls[1]?.reject(new ProbeError('too-large', 'larger than 1048576 bytes'));
    triton.calls[2]?.reject(new TypeError('boom'));
    await settle();
    const counted = (await metrics.probeRequests.get()).values.map((value) => [value.labels['result'], value.value]);
    expect(counted.sort()).toEqual([['failure', 1], ['ok', 1], ['too-large', 1]]);
  });

  it('close() aborts probes in flight, clears every timer and never notifies again', async () => {
    const { prober, timers, triton, notifications } = start();
    prober.setTargets([target(0), target(1)]);
    triton.calls[0]?.resolve({ [modelRefKey(resnet)]: READY });
    await settle();
    prober.close();
    expect(triton.calls[1]?.signal.aborted).toBe(true);
    expect(timers.tasks.size).toBe(0);
    triton.calls[1]?.resolve({ [modelRefKey(resnet)]: READY });
    await timers.advance(10_000);
    expect(triton.calls).toHaveLength(2);
    expect(notifications()).toBe(0);
    prober.setTargets([target(3)]);
    expect(triton.calls).toHaveLength(2);
  });
});
