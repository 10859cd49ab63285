/**
 * The SRE's view from a real Envoy sidecar, on every pinned version (delta ADS, on-demand scopes and
 * clusters): the bootstrap's stats tags label the Prometheus series of every model cluster it loaded with
 * infermesh_model / infermesh_backend (model names with `.`, `/` and `:` included), the pushed listener
 * writes one JSON access-log line per request with where it went, and the only deprecated fields Envoy
 * warns about are the deliberate, documented ones. Pods on 127.0.0.100-127.0.0.119.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTritonClient, tritonInfer, type TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { REPO, describeWithTool, envoyBinaries } from '../support/tools.ts';
import { accessLogLines, deprecationWarnings, parsePrometheus, type Sample } from './observability-read.ts';

const DOTTED = 'acme/bert.v2:large';
/** Envoy writes a `:` of a cluster name as `_` in stat names. */
const DOTTED_IN_STATS = 'acme/bert.v2_large';

const PODS: PodSpec[] = [
  { kind: 'triton', host: '127.0.0.100', pod: 'obs-resnet-v1', service: 'obs-resnet-v1', models: ['resnet50'], version: '1', zone: 'zone-a' },
  { kind: 'triton', host: '127.0.0.101', pod: 'obs-resnet-v2', service: 'obs-resnet-v2', models: ['resnet50'], version: '2', zone: 'zone-b' },
  { kind: 'triton', host: '127.0.0.102', pod: 'obs-dotted', service: 'obs-dotted', models: [DOTTED], version: '7' },
  { kind: 'tfserving', host: '127.0.0.103', pod: 'obs-tf', service: 'obs-tf', models: ['tfmodel'], version: '3' },
  { kind: 'tfserving', host: '127.0.0.104', pod: 'obs-generic', service: 'obs-generic', models: ['genmodel'], version: '4' },
];

/** Between them every feature infermesh pushes: split, pins, aliases, REST paths of all server kinds, both protocols. */
const POLICIES: Record<string, string> = {
  resnet50: `model: resnet50
aliases: [resnet]
server: triton
backends:
  - { name: stable, service: obs-resnet-v1, port: grpc, version: "1", weight: 50 }
  - { name: canary, service: obs-resnet-v2, port: grpc, version: "2", weight: 50 }
timeout: 10s
retries: { attempts: 2, perTryTimeout: 5s, retryOn: [unavailable, connect-failure, reset], backoff: { base: 10ms, max: 50ms } }
outlierDetection:
  consecutiveErrors: 5
  interval: 10s
  baseEjectionTime: 30s
  maxEjectionPercent: 50
  failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 10 }
  successRate: { stdevFactor: 1900, minimumHosts: 5, requestVolume: 100 }
circuitBreaker: { maxConnections: 1000, maxPendingRequests: 100, maxRequests: 1000, maxRetries: 3 }`,
  dotted: `model: ${DOTTED}
server: triton
backends: [{ name: main, service: obs-dotted, port: grpc, version: "7" }]
retries: { attempts: 0 }`,
  tfmodel: `model: tfmodel
server: tfserving
protocol: http
backends: [{ name: main, service: obs-tf, port: http, version: "3" }]`,
  genmodel: `model: genmodel
server: generic
protocol: http
backends: [{ name: main, service: obs-generic, port: http, version: "4" }]
outlierDetection: null
circuitBreaker: null`,
  // Never called: an on-demand sidecar never loads its clusters.
  idle: `model: idle
server: generic
protocol: http
backends: [{ name: main, service: obs-generic, port: http, version: "4" }]`,
};

/** The deprecated fields infermesh sets on purpose (README "What is pushed": gRPC 1.51 needs them). */
const DELIBERATE_DEPRECATIONS = [
  'envoy.config.route.v3.HeaderMatcher.exact_match',
  'envoy.config.route.v3.WeightedCluster.total_weight',
];

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && 'code' in error;
}

/** ModelInfer through the sidecar with the given headers; the pod that answered, or the gRPC status. */
async function grpcCall(client: TritonClient, model: string, headers: Record<string, string>): Promise<{ pod?: string; code?: grpc.status }> {
  try {
    return { pod: (await tritonInfer(client, model, { metadata: headers, timeoutMs: 5_000 })).pod };
  } catch (error) {
    if (!isServiceError(error)) throw error;
    return { code: error.code };
  }
}

async function restCall(sidecar: Sidecar, requestPath: string): Promise<number> {
  const response = await fetch(`${sidecar.url}${requestPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"instances":[1]}',
    signal: AbortSignal.timeout(5_000),
  });
  await response.arrayBuffer();
  return response.status;
}

function labelsOf(sample: Sample): Record<string, string> {
  return Object.fromEntries(sample.labels);
}

describeWithTool('observability through a real Envoy sidecar', envoyBinaries(), (binaries) => {
  const failures = trackFailures();
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, POLICIES);
  });
  afterAll(async () => {
    await mesh?.close();
  });

  binaries.forEach((binary) => {
    describe(`Envoy ${binary.version}`, () => {
      let sidecar: Sidecar;
      let client: TritonClient;
      const SPLIT_CALLS = 20;
      const DOTTED_CALLS = 6;
      /** The pod that answered each call of the weighted split. */
      const splitPods: string[] = [];
      /** Requests per backend cluster of resnet50 before the measured traffic (the warm-up's). */
      const warmRequests = new Map<string, number>();
      /** Access-log lines written by the warm-up: the access-log test reads the ones after them. */
      let warmLines = 0;

      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `obs-${binary.version}`, { extraArgs: ['--file-flush-interval-msec', '50'] });
        client = createTritonClient(sidecar.authority);
        // The sidecar loads a model's table and each cluster on the first request that needs it (on-demand SRDS
        // and CDS), and that first request may be logged without the cluster's metadata (see error-bodies'
        // first-request test): warm every scope and cluster measured below, then count from there.
        await eventually(async () => expect((await grpcCall(client, 'resnet50', { 'x-model': 'resnet50', 'x-model-version': '1' })).pod).toBe('obs-resnet-v1'));
        await eventually(async () => expect((await grpcCall(client, 'resnet50', { 'x-model': 'resnet50', 'x-model-version': '2' })).pod).toBe('obs-resnet-v2'));
        await eventually(async () => expect((await grpcCall(client, 'resnet50', { 'x-model': 'resnet', 'x-model-version': '2' })).pod).toBe('obs-resnet-v2'));
        await eventually(async () => expect((await grpcCall(client, DOTTED, { 'x-model': DOTTED })).pod).toBe('obs-dotted'));
        await eventually(async () => expect(await restCall(sidecar, '/v1/models/genmodel:predict')).toBe(200));
        await eventually(async () => expect(await restCall(sidecar, '/v1/models/tfmodel:predict')).toBe(200));
        warmLines = await eventually(async () => {
          const before = accessLogLines(sidecar.envoy.log()).length;
          await new Promise((resolve) => setTimeout(resolve, 200));
          expect(accessLogLines(sidecar.envoy.log()).length).toBe(before);
          return before;
        });
        const warmStats = parsePrometheus(await (await fetch(`${sidecar.envoy.statusUrl}/stats/prometheus`, { signal: AbortSignal.timeout(5_000) })).text());
        for (const sample of warmStats.filter((s) => s.name === 'envoy_cluster_upstream_rq_total')) warmRequests.set(sample.labels.get('envoy_cluster_name')!, sample.value);
        // The traffic both the stats and the access log tests read.
        for (let i = 0; i < SPLIT_CALLS; i += 1) {
          const { pod } = await grpcCall(client, 'resnet50', { 'x-model': 'resnet50' });
          expect(pod).toBeDefined();
          splitPods.push(pod!);
        }
        for (let i = 0; i < DOTTED_CALLS; i += 1) expect((await grpcCall(client, DOTTED, { 'x-model': DOTTED })).pod).toBe('obs-dotted');
        expect((await grpcCall(client, 'resnet50', { 'x-model': 'resnet', 'x-model-version': '2' })).pod).toBe('obs-resnet-v2');
        expect((await grpcCall(client, 'nosuchmodel', { 'x-model': 'nosuchmodel' })).code).toBe(grpc.status.NOT_FOUND);
        expect(await restCall(sidecar, '/v1/models/tfmodel:predict')).toBe(200);
        expect(await restCall(sidecar, '/v1/models/tfmodel/versions/3:predict')).toBe(200);
        expect(await restCall(sidecar, '/not-a-model-path')).toBe(400);
      }, 60_000);
      afterAll(async () => {
        client?.close();
        await sidecar?.stop(failures.failed);
      });

      it('labels the series of every called model cluster with infermesh_model and infermesh_backend in /stats/prometheus', async () => {
        const response = await fetch(`${sidecar.envoy.statusUrl}/stats/prometheus`, { signal: AbortSignal.timeout(5_000) });
        expect(response.status).toBe(200);
        const samples = parsePrometheus(await response.text());
        const requests = (cluster: string) => samples.filter((s) => s.name === 'envoy_cluster_upstream_rq_total' && s.labels.get('envoy_cluster_name') === cluster);

        // After the warm-up, canary got the split's share and the one alias pin, stable the rest of the split.
        const canary = splitPods.filter((pod) => pod === 'obs-resnet-v2').length + 1;
        const stable = splitPods.filter((pod) => pod === 'obs-resnet-v1').length;
        for (const backend of ['canary', 'stable']) {
          const cluster = `infermesh|resnet50|${backend}`;
          const [series, ...more] = requests(cluster);
          expect(more).toEqual([]);
          expect(labelsOf(series!)).toEqual({ envoy_cluster_name: cluster, infermesh_model: 'resnet50', infermesh_backend: backend });
          expect(series!.value - (warmRequests.get(cluster) ?? 0)).toBe(backend === 'canary' ? canary : stable);
        }
        const [dotted] = requests(`infermesh|${DOTTED_IN_STATS}|main`);
        expect(labelsOf(dotted!)).toEqual({ envoy_cluster_name: `infermesh|${DOTTED_IN_STATS}|main`, infermesh_model: DOTTED_IN_STATS, infermesh_backend: 'main' });
        expect(dotted!.value).toBeGreaterThanOrEqual(DOTTED_CALLS + 1);

        // The cluster name leaves the stat name whole: a model's series have the same names, whatever the model is called.
        const namesOf = (model: string) => new Set(samples.filter((s) => s.labels.get('infermesh_model') === model).map((s) => s.name));
        expect(namesOf(DOTTED_IN_STATS).size).toBeGreaterThan(20);
        expect([...namesOf(DOTTED_IN_STATS)].sort()).toEqual([...namesOf('resnet50')].sort());
        for (const sample of samples.filter((s) => s.name.startsWith('envoy_cluster'))) expect(sample.name).not.toMatch(/infermesh|resnet|bert|acme|tfmodel|genmodel|canary|stable|main_/);

        for (const model of ['tfmodel', 'genmodel']) {
          expect(requests(`infermesh|${model}|main`).map(labelsOf)).toEqual([{ envoy_cluster_name: `infermesh|${model}|main`, infermesh_model: model, infermesh_backend: 'main' }]);
        }
        // Clusters no request needed are not in the sidecar: the never-called model, and the blackhole (only
        // abort routes of a loaded table name it, and none was taken).
        expect(samples.filter((s) => s.labels.get('infermesh_model') === 'idle' || s.labels.get('envoy_cluster_name')?.includes('idle'))).toEqual([]);
        expect(requests('infermesh|blackhole')).toEqual([]);

        // Other series keep Envoy's own labels, and gain none of ours.
        const xds = requests('infermesh-xds');
        expect(xds.map(labelsOf)).toEqual([{ envoy_cluster_name: 'infermesh-xds' }]);
        const classes = samples.filter((s) => s.name === 'envoy_cluster_upstream_rq_xx' && s.labels.get('infermesh_model') === 'tfmodel');
        expect(classes.map(labelsOf)).toContainEqual({ envoy_response_code_class: '2', envoy_cluster_name: 'infermesh|tfmodel|main', infermesh_model: 'tfmodel', infermesh_backend: 'main' });
      });

      it('writes one JSON access-log line per request with model, version, route, upstream and outcome', async () => {
        // The measured requests of beforeAll, after the warm-up's (Envoy writes its log out every 50 ms here).
        const expected = SPLIT_CALLS + DOTTED_CALLS + 5;
        const lines = await eventually(async () => {
          const parsed = accessLogLines(sidecar.envoy.log()).slice(warmLines);
          expect(parsed.filter((line) => line['path'] === '/not-a-model-path')).toHaveLength(1);
          return parsed;
        }, { timeoutMs: 5_000, intervalMs: 50 });
        expect(lines.length).toBe(expected);

        const split = lines.filter((line) => line['route'] === 'resnet50');
        for (const line of split) {
          const canary = line['upstream_backend'] === 'canary';
          expect(line).toMatchObject({
            model: 'resnet50',
            version: null,
            method: 'POST',
            path: '/inference.GRPCInferenceService/ModelInfer',
            protocol: 'HTTP/2',
            upstream_model: 'resnet50',
            upstream_backend: canary ? 'canary' : 'stable',
            upstream_version: canary ? '2' : '1',
            upstream_cluster: `infermesh|resnet50|${canary ? 'canary' : 'stable'}`,
            upstream_host: `${canary ? mesh.specs[1]!.host : mesh.specs[0]!.host}:${mesh.pod(canary ? 'obs-resnet-v2' : 'obs-resnet-v1').grpcPort}`,
            response_code: 200,
            grpc_status: 0,
            response_flags: '-',
            attempts: 1,
          });
          expect(typeof line['duration_ms']).toBe('number');
          expect(line['start_time']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
          expect(line['request_id']).toMatch(/^[0-9a-f-]{36}$/);
        }
        expect(split.filter((line) => line['upstream_backend'] === 'canary').length).toBe(splitPods.filter((pod) => pod === 'obs-resnet-v2').length);

        const one = (predicate: (line: Record<string, unknown>) => boolean) => {
          const found = lines.filter(predicate);
          expect(found).toHaveLength(1);
          return found[0]!;
        };
        // The alias picks the model's own table (scoped RDS), whose routes carry the model's name.
        expect(one((line) => line['model'] === 'resnet')).toMatchObject({
          route: 'resnet50|version=2', version: '2', upstream_model: 'resnet50', upstream_backend: 'canary', upstream_version: '2', upstream_cluster: 'infermesh|resnet50|canary', response_code: 200, grpc_status: 0,
        });
        // No scope for the name (NR): the local-reply mappers answer, no route and no pod are involved.
        expect(one((line) => line['model'] === 'nosuchmodel')).toMatchObject({
          version: null, route: null, upstream_model: null, upstream_host: null, response_code: 200, grpc_status: grpc.status.NOT_FOUND, response_flags: 'NR', attempts: 0, protocol: 'HTTP/2',
        });
        // A REST caller's model header is set from its path before the log sees the request.
        expect(one((line) => line['path'] === '/v1/models/tfmodel:predict')).toMatchObject({
          model: 'tfmodel', version: null, method: 'POST', protocol: 'HTTP/1.1', route: '/v1/models/tfmodel', upstream_model: 'tfmodel', upstream_backend: 'main', upstream_version: '3',
          upstream_cluster: 'infermesh|tfmodel|main', upstream_host: `127.0.0.103:${mesh.pod('obs-tf').httpPort}`, response_code: 200, response_flags: '-',
        });
        expect(one((line) => line['path'] === '/v1/models/tfmodel/versions/3:predict')).toMatchObject({ route: '/v1/models/tfmodel|version=3', upstream_version: '3', response_code: 200 });
        expect(one((line) => line['path'] === '/not-a-model-path')).toMatchObject({
          model: null, route: null, upstream_model: null, upstream_host: null, response_code: 400, response_flags: 'NR', attempts: 0, protocol: 'HTTP/1.1',
        });
        expect(lines.filter((line) => line['upstream_model'] === DOTTED).length).toBe(DOTTED_CALLS);
      }, 30_000);

      it('warns about exactly the deliberate, documented deprecated fields', async () => {
        const warned = await eventually(() => {
          const found = deprecationWarnings(sidecar.envoy.log());
          expect(found).toEqual(expect.arrayContaining(DELIBERATE_DEPRECATIONS));
          return found;
        });
        expect(warned).toEqual(DELIBERATE_DEPRECATIONS);
        const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
        for (const field of warned) expect(readme).toContain(field);
      });
    });
  });
});
