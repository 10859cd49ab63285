/**
 * The proxyless routing scenarios every independent gRPC xDS client runs (test/interop): the routing
 * contract (weighted split, version pin, alias, unknown model / version, missing header, TF Serving), plus
 * what the client must take from the resources besides the cluster: the retry policy (and the explicit empty
 * one), the route timeout (max_stream_duration, gRFC A31) and outlier ejection by failure percentage
 * (gRFC A50). Nothing may be NACKed, with a `protocol: http` model in the table too. C-core and grpc-go run
 * as processes with the command line of grpc_python_client.py / go/main.go, @grpc/grpc-js-xds in the test's
 * own process (grpc-js.test.ts); each run dials anew and reports a tally. perModelTargetScenarios does the
 * same on per-model targets (xds:///infermesh/<name>: one model's table, no model header).
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { backendClusterName, BLACKHOLE_CLUSTER } from '../../src/envoy/names.ts';
import type { ClientStream } from '../../src/xds/client-view.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { nacks, type ClientRun } from './proxyless-clients.ts';

/** Pods on 127.0.0.N .. N+6 (`first` is "127.0.0.N"); one Mesh per test file. */
export function interopPods(first: string): PodSpec[] {
  const base = first.slice(0, first.lastIndexOf('.') + 1);
  const octet = Number(first.slice(first.lastIndexOf('.') + 1));
  const host = (i: number): string => `${base}${octet + i}`;
  return [
    { kind: 'triton', host: host(0), pod: 'stable-0', service: 'resnet50-v1', models: ['resnet50'], version: '1' },
    { kind: 'triton', host: host(1), pod: 'canary-0', service: 'resnet50-v2', models: ['resnet50'], version: '2' },
    { kind: 'tfserving', host: host(2), pod: 'bert-0', service: 'bert', models: ['bert'], version: '3' },
    { kind: 'triton', host: host(3), pod: 'flaky-0', service: 'flaky', models: ['flaky'], version: '1' },
    { kind: 'triton', host: host(4), pod: 'slow-0', service: 'slow', models: ['slow'], version: '1' },
    { kind: 'triton', host: host(5), pod: 'eject-a', service: 'eject', models: ['eject'], version: '1' },
    { kind: 'triton', host: host(6), pod: 'eject-b', service: 'eject', models: ['eject'], version: '1' },
  ];
}

export const INTEROP_POLICIES: Record<string, string> = {
  'resnet50-policy': `
model: resnet50
aliases: [resnet]
server: triton
backends:
  - { name: stable, service: resnet50-v1, port: grpc, version: "1", weight: 75 }
  - { name: canary, service: resnet50-v2, port: grpc, version: "2", weight: 25 }
timeout: 5s
retries: { attempts: 2, perTryTimeout: 1s, retryOn: [unavailable, connect-failure] }
`,
  'bert-policy': `
model: bert
server: tfserving
backends:
  - { name: main, service: bert, port: grpc, weight: 100 }
`,
  'flaky-policy': `
model: flaky
server: triton
backends:
  - { name: main, service: flaky, port: grpc, weight: 100 }
retries: { attempts: 2, retryOn: [unavailable] }
`,
  // Retries off: its routes carry an explicit empty retry policy, which every client must accept and obey.
  // The pod knows the model as flaky, not by this policy's name: probing would (rightly) find it not loaded.
  'flaky-no-retries-policy': `
model: flaky-no-retries
server: triton
probe: { enabled: false }
backends:
  - { name: main, service: flaky, port: grpc, weight: 100 }
retries: { attempts: 0 }
`,
  'slow-policy': `
model: slow
server: triton
backends:
  - { name: main, service: slow, port: grpc, weight: 100 }
timeout: 3s
retries: { attempts: 0 }
`,
  // protocol http: its routes carry retry_policy.retriable_status_codes (503, for the default `unavailable`).
  // No client here calls it, but the route table is shared: a field one client rejects NACKs every model.
  'bert-rest-policy': `
model: bert-rest
server: tfserving
protocol: http
backends:
  - { name: main, service: bert, port: http, weight: 100 }
`,
  // Failure-percentage ejection, the detector gRPC clients implement (gRFC A50), on a short interval.
  'eject-policy': `
model: eject
server: triton
backends:
  - { name: main, service: eject, port: grpc, weight: 100 }
retries: { attempts: 0 }
outlierDetection:
  interval: 500ms
  baseEjectionTime: 1m
  maxEjectionPercent: 50
  failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 10 }
`,
};


export interface ScenarioOptions {
  /**
   * How much sooner than the route timeout the client may end a call. gRPC C-core (1.51 and 1.85 alike) ends
   * calls 1 to 2 s early here, with a plain service-config timeout too, so it is C-core's clock, not xDS.
   */
  timeoutEarlyByUpToMs?: number;
}

/** The scenarios, as `it`s inside the caller's describe. Tests of one file run in order; pods are shared. */
export function proxylessScenarios(mesh: () => Mesh, call: ClientRun, options: ScenarioOptions = {}): void {
  let nacksBefore = 0;
  beforeAll(async () => {
    nacksBefore = await nacks(mesh());
  });

  it("is served a route table with an http model's retriable_status_codes", () => {
    const table = mesh().server.store.current()?.resources('route').get(mesh().settings.grpcTarget)?.json;
    expect(JSON.stringify(table)).toContain('"retriable_status_codes":[503]');
  });

  it('accepts the configuration and splits 1,000 calls 75/25 by weight', async () => {
    const { pods, errors } = await call('triton', 'resnet50', 1000, { 'x-model': 'resnet50' });
    expect(errors).toEqual({});
    expect((pods['stable-0'] ?? 0) + (pods['canary-0'] ?? 0)).toBe(1000);
    // 3.5 standard deviations of a binomial(1000, 0.25) is about 48 calls.
    expect(pods['canary-0']).toBeGreaterThan(250 - 48);
    expect(pods['canary-0']).toBeLessThan(250 + 48);
  });

  it('pins a version with x-model-version, through an alias too', async () => {
    expect(await call('triton', 'resnet50', 20, { 'x-model': 'resnet50', 'x-model-version': '2' })).toMatchObject({ pods: { 'canary-0': 20 }, errors: {} });
    expect(await call('triton', 'resnet50', 20, { 'x-model': 'resnet', 'x-model-version': '1' })).toMatchObject({ pods: { 'stable-0': 20 }, errors: {} });
  });

  it('routes TF Serving Predict by the model header', async () => {
    expect(await call('tfserving', 'bert', 10, { 'x-model': 'bert' })).toMatchObject({ pods: { 'bert-0': 10 }, errors: {} });
  });

  it('answers an unknown model or version NOT_FOUND and a missing header INVALID_ARGUMENT, without reaching a pod', async () => {
    const served = (): number => [...mesh().pods.values()].reduce((sum, pod) => sum + pod.requests + pod.notFound, 0);
    const before = served();
    expect((await call('triton', 'resnet50', 3, { 'x-model': 'no-such-model' })).errors).toEqual({ NOT_FOUND: 3 });
    expect((await call('triton', 'resnet50', 3, { 'x-model': 'resnet50', 'x-model-version': '7' })).errors).toEqual({ NOT_FOUND: 3 });
    expect((await call('triton', 'resnet50', 3, {})).errors).toEqual({ INVALID_ARGUMENT: 3 });
    expect(served()).toBe(before);
  });

  it('retries UNAVAILABLE as the route says, and not at all where retries are off', async () => {
    const flaky = mesh().pod('flaky-0');
    try {
      // Every second call that reaches the pod fails: a retried call always succeeds on its next attempt.
      flaky.setFailure({ kind: 'every-nth', n: 2, code: 14 });
      expect(await call('triton', 'flaky', 10, { 'x-model': 'flaky' })).toMatchObject({ pods: { 'flaky-0': 10 }, errors: {} });
      flaky.setFailure({ kind: 'every-nth', n: 2, code: 14 });
      expect(await call('triton', 'flaky', 10, { 'x-model': 'flaky-no-retries' })).toMatchObject({ pods: { 'flaky-0': 5 }, errors: { UNAVAILABLE: 5 } });
    } finally {
      flaky.setFailure({ kind: 'none' });
    }
  });

  it('ends a call at the route timeout (max_stream_duration, 3 s), long before its own deadline', async () => {
    const slow = mesh().pod('slow-0');
    expect(await call('triton', 'slow', 2, { 'x-model': 'slow' })).toMatchObject({ pods: { 'slow-0': 2 }, errors: {} });
    slow.setFailure({ kind: 'delay', ms: 6000 });
    try {
      const started = Date.now();
      expect(await call('triton', 'slow', 1, { 'x-model': 'slow' })).toMatchObject({ pods: {}, errors: { DEADLINE_EXCEEDED: 1 } });
      // The client's own deadline is 10 s and the pod answers after 6 s: only the route's 3 s ends it sooner.
      const elapsed = Date.now() - started;
      expect(elapsed).toBeLessThan(6000);
      expect(elapsed).toBeGreaterThanOrEqual(3000 - (options.timeoutEarlyByUpToMs ?? 0));
    } finally {
      slow.setFailure({ kind: 'none' });
    }
  });

  it('ejects an always-failing pod (failure percentage) and sends every later call to the other', async () => {
    const broken = mesh().pod('eject-b');
    broken.setFailure({ kind: 'always', code: 14 });
    try {
      // 200 calls 10 ms apart span four detector intervals; a client that ejects has done so by the last 60.
      const { outcomes, errors } = await call('triton', 'eject', 200, { 'x-model': 'eject' }, { gapMs: 10 });
      expect(outcomes).toHaveLength(200);
      expect(errors['UNAVAILABLE']).toBeGreaterThan(0);
      expect(outcomes.slice(-60)).toEqual(Array(60).fill('eject-a'));
    } finally {
      broken.setFailure({ kind: 'none' });
    }
  });

  it('was never NACKed', async () => {
    expect(await nacks(mesh())).toBe(nacksBefore);
  });
}

/** The connected clients whose listener subscription names `listener` (a per-model target's). */
function clientsOf(mesh: Mesh, listener: string): ClientStream[] {
  return mesh.server.xds.streams().filter((stream) => {
    const names = stream.syncState().get('listener')?.subscription;
    return names !== undefined && names !== 'wildcard' && names.has(listener);
  });
}

/** What the one client of `listener` has ACKed: route and cluster names, and each route's version. */
function ackedBy(mesh: Mesh, listener: string): { routes: Map<string, string>; clusters: string[]; json: unknown } {
  const clients = clientsOf(mesh, listener);
  expect(clients).toHaveLength(1);
  const sync = clients[0]?.syncState() ?? new Map();
  const routes = new Map([...(sync.get('route')?.ackedResources ?? new Map())].map(([name, resource]) => [name, resource.version]));
  return { routes, clusters: [...(sync.get('cluster')?.ackedResources.keys() ?? [])].sort(), json: sync.get('route')?.ackedResources.get(listener)?.json };
}

function routeVersion(mesh: Mesh, name: string): string | undefined {
  return mesh.server.store.current()?.resources('route').get(name)?.version;
}

let lateModels = 0;

/**
 * Per-model targets (xds:///<grpc target>/<name>): one model's own table, no model header. Runs after
 * proxylessScenarios on the same Mesh; each call of this function adds (and removes) one model of its own.
 */
export function perModelTargetScenarios(mesh: () => Mesh, call: ClientRun): void {
  const target = (name: string): string => `${mesh().settings.grpcTarget}/${name}`;
  const served = (): number => [...mesh().pods.values()].reduce((sum, pod) => sum + pod.requests + pod.notFound, 0);
  let nacksBefore = 0;
  beforeAll(async () => {
    nacksBefore = await nacks(mesh());
  });

  it('splits 400 calls 75/25 on infermesh/resnet50, without a model header', async () => {
    const { pods, errors } = await call('triton', 'resnet50', 400, {}, { target: target('resnet50') });
    expect(errors).toEqual({});
    expect((pods['stable-0'] ?? 0) + (pods['canary-0'] ?? 0)).toBe(400);
    // 3.5 standard deviations of a binomial(400, 0.25) is about 30 calls.
    expect(pods['canary-0']).toBeGreaterThan(100 - 30);
    expect(pods['canary-0']).toBeLessThan(100 + 30);
  });

  it('pins a version on a per-model target, through the alias target too', async () => {
    expect(await call('triton', 'resnet50', 20, { 'x-model-version': '2' }, { target: target('resnet50') })).toMatchObject({ pods: { 'canary-0': 20 }, errors: {} });
    expect(await call('triton', 'resnet50', 20, { 'x-model-version': '1' }, { target: target('resnet') })).toMatchObject({ pods: { 'stable-0': 20 }, errors: {} });
  });

  it("retries UNAVAILABLE on a per-model target by the table's virtual-host retry policy, and not where retries are off", async () => {
    // The model's own table carries its retry policy once, on the virtual host (gRFC A44): the routes have none.
    const table = mesh().server.store.current()?.resources('route').get(target('flaky'))?.json as { virtual_hosts?: { retry_policy?: unknown; routes?: { route?: { retry_policy?: unknown } }[] }[] } | undefined;
    expect(table?.virtual_hosts?.[0]?.retry_policy).toBeDefined();
    expect(table?.virtual_hosts?.[0]?.routes?.every((route) => route.route?.retry_policy === undefined)).toBe(true);
    const flaky = mesh().pod('flaky-0');
    try {
      flaky.setFailure({ kind: 'every-nth', n: 2, code: 14 });
      expect(await call('triton', 'flaky', 10, {}, { target: target('flaky') })).toMatchObject({ pods: { 'flaky-0': 10 }, errors: {} });
      flaky.setFailure({ kind: 'every-nth', n: 2, code: 14 });
      expect(await call('triton', 'flaky', 10, {}, { target: target('flaky-no-retries') })).toMatchObject({ pods: { 'flaky-0': 5 }, errors: { UNAVAILABLE: 5 } });
    } finally {
      flaky.setFailure({ kind: 'none' });
    }
  });

  it("routes TF Serving Predict on infermesh/bert, whose client is sent bert's table and clusters alone", async () => {
    const name = target('bert');
    const running = call('tfserving', 'bert', 30, {}, { target: name, gapMs: 100 });
    // Seen while the client runs: a process client's stream ends with it.
    const seen = eventually(() => {
      const acked = ackedBy(mesh(), name);
      expect(acked.routes.size).toBeGreaterThan(0);
      expect(acked.clusters.length).toBeGreaterThan(0);
      return acked;
    }, { timeoutMs: 20_000 });
    const [tally, acked] = await Promise.all([running, seen]);
    expect(tally).toMatchObject({ pods: { 'bert-0': 30 }, errors: {} });
    // The full table (xds:///infermesh) differs from bert's, and carries every model's clusters.
    expect(routeVersion(mesh(), mesh().settings.grpcTarget)).not.toBe(routeVersion(mesh(), name));
    expect(acked.routes).toEqual(new Map([[name, routeVersion(mesh(), name)]]));
    // The blackhole is the cluster of the table's abort routes (unknown version).
    expect(acked.clusters).toEqual([backendClusterName('bert', 'main'), BLACKHOLE_CLUSTER].sort());
    const clustersNamed = [...JSON.stringify(acked.json).matchAll(/"(?:cluster|name)":"(infermesh\|[^"|]+)\|[^"]*"/g)].map((m) => m[1]);
    expect(new Set(clustersNamed)).toEqual(new Set(['infermesh|bert']));
    expect(JSON.stringify(acked.json)).not.toContain('resnet50');
  });

  it('answers NOT_FOUND for an unknown model target or an unknown version, without reaching a pod', async () => {
    const before = served();
    const unknown = await call('triton', 'resnet50', 3, {}, { target: target('no-such-model') });
    expect(unknown.errors).toEqual({ NOT_FOUND: 3 });
    expect((await call('triton', 'resnet50', 3, { 'x-model': 'resnet50' }, { target: target('no-such-model') })).errors).toEqual({ NOT_FOUND: 3 });
    expect((await call('triton', 'resnet50', 3, { 'x-model-version': '7' }, { target: target('resnet50') })).errors).toEqual({ NOT_FOUND: 3 });
    expect(served()).toBe(before);
  });

  it('serves a model that appears after its target was dialled, and stops when it goes, on the same channel', async () => {
    lateModels += 1;
    const model = `late-${lateModels}`;
    const policy = `late-${lateModels}-policy`;
    const name = target(model);
    const unknownTable = routeVersion(mesh(), name);
    const bert = mesh().pod('bert-0');
    // One channel, 120 calls 100 ms apart; the model comes and goes while it runs. The body names bert:
    // that is what the pod serves; the table (the target) picks the backend.
    const running = call('tfserving', 'bert', 120, {}, { target: name, gapMs: 100 });
    const ackedTable = (version: string | undefined) => () => expect(ackedBy(mesh(), name).routes.get(name)).toBe(version);
    try {
      await eventually(ackedTable(unknownTable), { timeoutMs: 20_000 });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const requestsBefore = bert.requests;
      await mesh().writePolicy(policy, `
model: ${model}
server: tfserving
probe: { enabled: false }
backends:
  - { name: main, service: bert, port: grpc, weight: 100 }
`);
      await eventually(() => expect(routeVersion(mesh(), name)).not.toBe(unknownTable));
      await eventually(ackedTable(routeVersion(mesh(), name)));
      await eventually(() => expect(bert.requests).toBeGreaterThan(requestsBefore + 2));
    } finally {
      await rm(path.join(mesh().dir, `${policy}.yaml`), { force: true });
    }
    await eventually(() => expect(routeVersion(mesh(), name)).toBe(unknownTable));
    const { outcomes } = await running;
    expect(outcomes).toHaveLength(120);
    // NOT_FOUND until the model exists, then bert-0, then NOT_FOUND again: never redialled, never a gap.
    expect(outcomes.join(' ')).toMatch(/^(NOT_FOUND )+(bert-0 )+NOT_FOUND( NOT_FOUND)*$/);
  });

  it('was never NACKed on per-model tables', async () => {
    expect(await nacks(mesh())).toBe(nacksBefore);
  });
}
