/**
 * The proxyless routing scenarios every independent gRPC xDS client runs (test/interop): the routing
 * contract (weighted split, version pin, alias, unknown model / version, missing header, TF Serving), plus
 * what the client must take from the resources besides the cluster: the retry policy (and the explicit empty
 * one), the route timeout (max_stream_duration, gRFC A31) and outlier ejection by failure percentage
 * (gRFC A50). Nothing may be NACKed, with a `protocol: http` model in the table too. C-core and grpc-go run
 * as processes with the command line of grpc_python_client.py / go/main.go, @grpc/grpc-js-xds in the test's
 * own process (grpc-js.test.ts); each run dials anew and reports a tally.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { Mesh, type PodSpec } from '../support/mesh.ts';

const run = promisify(execFile);

export interface Tally {
  pods: Record<string, number>;
  errors: Record<string, number>;
  /** The last status message per error code. */
  messages: Record<string, string>;
  /** Per call, in order: the pod that answered or the error code. */
  outcomes: string[];
}

export type ServingKind = 'triton' | 'tfserving';

/**
 * Runs `calls` calls, one at a time with `gapMs` between them, through a fresh channel to xds:///infermesh;
 * `model` is the name in the request body.
 */
export type ClientRun = (kind: ServingKind, model: string, calls: number, headers: Record<string, string>, gapMs?: number) => Promise<Tally>;

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
  'flaky-no-retries-policy': `
model: flaky-no-retries
server: triton
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

/** Writes a gRPC xDS bootstrap for this mesh's control plane and returns its path. */
export async function writeBootstrap(mesh: Mesh, nodeId: string): Promise<string> {
  const file = path.join(mesh.dir, `.bootstrap-${nodeId}.json`);
  await writeFile(file, JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${mesh.server.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster: 'interop', locality: {} },
  }));
  return file;
}

/** A ClientRun that starts `command args... TARGET KIND MODEL CALLS K=V...` with GRPC_XDS_BOOTSTRAP set. */
export function processClient(command: string, args: string[], bootstrap: () => string): ClientRun {
  return async (kind, model, calls, headers, gapMs = 0) => {
    const argv = [...args, 'infermesh', kind, model, String(calls), ...Object.entries(headers).map(([k, v]) => `${k}=${v}`)];
    const env = { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap(), GRPC_VERBOSITY: 'ERROR', INFERMESH_CALL_GAP_MS: String(gapMs) };
    const { stdout } = await run(command, argv, { env, timeout: 60_000 });
    return JSON.parse(stdout) as Tally;
  };
}

async function nacks(mesh: Mesh): Promise<number> {
  const text = await mesh.metrics();
  return [...text.matchAll(/^infermesh_xds_nacks_total(?:\{[^}]*\})? (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

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
      const { outcomes, errors } = await call('triton', 'eject', 200, { 'x-model': 'eject' }, 10);
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
