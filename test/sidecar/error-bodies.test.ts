/**
 * Envoy's own error answers on a routed call (README "Routing semantics", error answers), through a real
 * Envoy sidecar on every pinned version (delta ADS, on-demand scopes and clusters): circuit-breaker overflow,
 * no healthy endpoint, an unreachable pod and timeouts answer REST callers with JSON and Envoy's status code,
 * gRPC callers keep Envoy's gRPC status and message, and a pod's own error answer is never rewritten. Each
 * case also asserts the response flags Envoy logged, which the local_reply mappers select on.
 * Pods on 127.0.0.160-127.0.0.179.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { accessLogLines } from './observability-read.ts';
import { grpcInfer, restInfer, sidecarClient, type GrpcOutcome, type RestOutcome } from './resilience-calls.ts';

const PODS: PodSpec[] = [
  { kind: 'triton', host: '127.0.0.160', pod: 'busy-a', service: 'busy', models: ['busy', 'busygrpc', 'firstok'], version: '1' },
  { kind: 'triton', host: '127.0.0.161', pod: 'down-a', service: 'down', models: ['down', 'downonce'], version: '1' },
  { kind: 'triton', host: '127.0.0.162', pod: 'slow-a', service: 'slow', models: ['slowtry', 'slowall', 'slowgrpc'], version: '1' },
];

const model = (name: string, service: string, protocol: 'http' | 'grpc', rest: string) => `model: ${name}
server: triton
protocol: ${protocol}
backends: [{ name: main, service: ${service}, port: ${protocol}, version: "1" }]
outlierDetection: null
${rest}`;

const POLICIES: Record<string, string> = {
  busy: model('busy', 'busy', 'http', `retries: { attempts: 0 }
circuitBreaker: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1 }`),
  busygrpc: model('busygrpc', 'busy', 'grpc', `retries: { attempts: 0 }
circuitBreaker: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1 }`),
  // No EndpointSlice names service `nobody`: the cluster has no endpoint at all.
  empty: model('empty', 'nobody', 'grpc', 'aliases: [vacant]'),
  // Its pod is closed before the tests: every connect is refused.
  down: model('down', 'down', 'grpc', 'retries: { attempts: 0 }'),
  downonce: model('downonce', 'down', 'grpc', 'retries: { attempts: 1, retryOn: [connect-failure] }'),
  slowtry: model('slowtry', 'slow', 'http', `timeout: 5s
retries: { attempts: 1, perTryTimeout: 250ms, retryOn: [unavailable] }`),
  slowall: model('slowall', 'slow', 'http', `timeout: 600ms
retries: { attempts: 0 }`),
  slowgrpc: model('slowgrpc', 'slow', 'grpc', `timeout: 600ms
retries: { attempts: 0 }`),
  // Called by the first-request test only: their scopes and clusters are not loaded before it.
  firstok: model('firstok', 'busy', 'http', 'retries: { attempts: 0 }'),
  firstdown: model('firstdown', 'down', 'grpc', 'retries: { attempts: 0 }'),
};

/** REST paths of the models the steady-state tests measure, with the status a loaded model answers. */
const WARM_REST: [string, string, number][] = [
  ['busy', '/v2/models/busy/infer', 200],
  ['empty', '/v2/models/empty/infer', 503],
  ['down', '/v2/models/down/infer', 503],
  ['downonce', '/v2/models/downonce/infer', 503],
  ['slowtry', '/v2/models/slowtry/infer', 200],
  ['slowall', '/v2/models/slowall/infer', 200],
];

const JSON_TYPE = 'application/json';
const OVERFLOW = 'upstream connect error or disconnect/reset before headers. reset reason: overflow';
const REFUSED = 'upstream connect error or disconnect/reset before headers. reset reason: remote connection failure';
const REFUSED_RETRIED = 'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: remote connection failure';

function parsed(outcome: RestOutcome): { status: number; type: string | null; body: unknown } {
  let body: unknown = outcome.body;
  try {
    body = JSON.parse(outcome.body);
  } catch {
    // not JSON: the assertion shows the text
  }
  return { status: outcome.status, type: outcome.headers.get('content-type'), body };
}

function errorBody(error: string, name: string, message: string, detail: string | RegExp): Record<string, unknown> {
  return { error, model: name, backend: 'main', message, detail: typeof detail === 'string' ? detail : expect.stringMatching(detail) };
}

/**
 * The response code and flags of every access-log line of `path` from the `count`th on (Envoy writes its
 * log out every 50 ms here), waiting until there are `count` + `expected` lines.
 */
async function logged(sidecar: Sidecar, path: string, from: number, expected = 1): Promise<string[]> {
  return eventually(async () => {
    const lines = accessLogLines(sidecar.envoy.log()).filter((line) => line['path'] === path).slice(from);
    expect(lines.length).toBe(expected);
    return lines.map((line) => `${String(line['response_code'])} ${String(line['response_flags'])}`);
  }, { timeoutMs: 3_000, intervalMs: 50 });
}

/** How many access-log lines of `path` Envoy has written out so far (call it when nothing is pending). */
async function loggedSoFar(sidecar: Sidecar, path: string): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 150));
  return accessLogLines(sidecar.envoy.log()).filter((line) => line['path'] === path).length;
}

describeWithTool("Envoy's own error answers through a real Envoy sidecar", envoyBinaries(), (binaries) => {
  const failures = trackFailures();
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, POLICIES);
    await mesh.pod('down-a').close();
  });
  afterAll(async () => {
    await mesh?.close();
  });

  binaries.forEach((binary) => {
    describe(`Envoy ${binary.version}`, () => {
      let sidecar: Sidecar;
      let client: TritonClient;

      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `errors-${process.pid}-${binary.version}`, { extraArgs: ['--file-flush-interval-msec', '50'] });
        client = sidecarClient(sidecar);
        // A sidecar loads a model's table and clusters on its first request for it (on-demand SRDS and CDS);
        // the first answer can lack the cluster's metadata on some versions (see the first-request test), so
        // every model measured below answers in full once before any test counts its log lines.
        for (const [name, path, status] of WARM_REST) {
          await eventually(async () => {
            const answer = await restInfer(sidecar, path);
            expect(answer.status).toBe(status);
            if (status !== 200) expect(JSON.parse(answer.body)).toMatchObject({ model: name, backend: 'main' });
          });
        }
        await eventually(async () => {
          const viaAlias = await fetch(`${sidecar.url}/infer`, { method: 'POST', headers: { 'x-model': 'vacant' }, body: '{}', signal: AbortSignal.timeout(5_000) });
          expect(viaAlias.status).toBe(503);
          expect(JSON.parse(await viaAlias.text())).toMatchObject({ model: 'empty', backend: 'main' });
        });
        for (const name of ['busygrpc', 'slowgrpc']) await eventually(async () => expect(await grpcInfer(client, name)).toMatchObject({ ok: true }));
      }, 30_000);
      afterAll(async () => {
        client?.close();
        await sidecar?.stop(failures.failed);
      });

      it('circuit-breaker overflow: 503 overloaded, x-envoy-overloaded kept (flag UO)', async () => {
        const path = '/v2/models/busy/infer';
        const from = await loggedSoFar(sidecar, path);
        const held = mesh.pod('busy-a');
        held.setFailure({ kind: 'delay', ms: 600 });
        let outcomes: RestOutcome[] = [];
        try {
          outcomes = await Promise.all(Array.from({ length: 6 }, () => restInfer(sidecar, path)));
        } finally {
          held.setFailure({ kind: 'none' });
        }
        const overflowed = outcomes.filter((o) => o.status !== 200);
        expect(overflowed.length).toBeGreaterThanOrEqual(4);
        for (const o of overflowed) {
          expect(parsed(o)).toEqual({
            status: 503,
            type: JSON_TYPE,
            body: errorBody('overloaded', 'busy', 'model busy is at its concurrency limit (circuit breaker of backend main): retry later', OVERFLOW),
          });
          expect(o.headers.get('x-envoy-overloaded')).toBe('true');
        }
        const lines = await logged(sidecar, path, from, 6);
        expect(lines.filter((line) => !line.startsWith('200 ')).sort()).toEqual(overflowed.map(() => '503 UO'));
      });

      it('no endpoint: 503 no_healthy_upstream, by path and through an alias (flag UH)', async () => {
        const path = '/v2/models/empty/infer';
        const from = await loggedSoFar(sidecar, path);
        const expected = {
          status: 503,
          type: JSON_TYPE,
          body: errorBody('no_healthy_upstream', 'empty', 'backend main of model empty has no healthy endpoint', 'no healthy upstream'),
        };
        expect(parsed(await restInfer(sidecar, path))).toEqual(expected);
        expect(await logged(sidecar, path, from)).toEqual(['503 UH']);
        const viaAlias = await fetch(`${sidecar.url}/infer`, { method: 'POST', headers: { 'x-model': 'vacant' }, body: '{}', signal: AbortSignal.timeout(5_000) });
        expect(parsed({ status: viaAlias.status, headers: viaAlias.headers, body: await viaAlias.text(), ms: 0 })).toEqual(expected);
      });

      it('refused connections: 503 upstream_unavailable, with and without a retry (flags UF, URX)', async () => {
        const [path, retriedPath] = ['/v2/models/down/infer', '/v2/models/downonce/infer'];
        const [from, retriedFrom] = [await loggedSoFar(sidecar, path), await loggedSoFar(sidecar, retriedPath)];
        const once = parsed(await restInfer(sidecar, path));
        const retried = parsed(await restInfer(sidecar, retriedPath));
        expect(await logged(sidecar, path, from)).toEqual(['503 UF']);
        expect(await logged(sidecar, retriedPath, retriedFrom)).toEqual(['503 URX,UF']);
        expect(once).toEqual({
          status: 503,
          type: JSON_TYPE,
          body: errorBody('upstream_unavailable', 'down', 'backend main of model down could not be reached', REFUSED),
        });
        expect(retried).toEqual({
          status: 503,
          type: JSON_TYPE,
          body: errorBody('upstream_unavailable', 'downonce', 'backend main of model downonce could not be reached', REFUSED_RETRIED),
        });
      });

      it('timeouts: 504 timeout for a try that runs out (UT) and for the route timeout (no flag)', async () => {
        const [tryPath, overallPath] = ['/v2/models/slowtry/infer', '/v2/models/slowall/infer'];
        const [tryFrom, overallFrom] = [await loggedSoFar(sidecar, tryPath), await loggedSoFar(sidecar, overallPath)];
        const slow = mesh.pod('slow-a');
        slow.setFailure({ kind: 'delay', ms: 3_000 });
        let answers: RestOutcome[] = [];
        try {
          answers = await Promise.all([restInfer(sidecar, tryPath), restInfer(sidecar, overallPath)]);
        } finally {
          slow.setFailure({ kind: 'none' });
        }
        const [perTry, overall] = answers.map(parsed);
        expect(await logged(sidecar, tryPath, tryFrom)).toEqual(['504 UT']);
        // max_stream_duration sets no response flag (not DT, which is for connections): only the status tells.
        expect(await logged(sidecar, overallPath, overallFrom)).toEqual(['504 -']);
        expect(perTry).toEqual({ status: 504, type: JSON_TYPE, body: errorBody('timeout', 'slowtry', 'model slowtry did not answer within its timeout', 'upstream request timeout') });
        expect(overall).toEqual({ status: 504, type: JSON_TYPE, body: errorBody('timeout', 'slowall', 'model slowall did not answer within its timeout', 'downstream duration timeout') });
      });

      it("a pod's own 503 passes through untouched, even after retries ran out (flag URX)", async () => {
        const path = '/v2/models/slowtry/infer';
        const from = await loggedSoFar(sidecar, path);
        const slow = mesh.pod('slow-a');
        slow.setFailure({ kind: 'always' });
        let answer: RestOutcome;
        try {
          answer = await restInfer(sidecar, path);
        } finally {
          slow.setFailure({ kind: 'none' });
        }
        expect(answer.status).toBe(503);
        expect(JSON.parse(answer.body)).toMatchObject({ error: expect.stringContaining('injected failure on slow-a'), served_by: 'slow-a' });
        expect(await logged(sidecar, path, from)).toEqual(['503 URX']);
      });

      // On 1.38 and 1.39 the on_demand filter recreates the stream once the model's cluster has arrived, and
      // Envoy logs the abandoned stream too: a line with response_code 0, attempts 0 and no flags before the
      // real one. On 1.38 the recreated stream also misses the cluster (%UPSTREAM_CLUSTER% and
      // %CLUSTER_METADATA% are empty), so the JSON error body says model null, backend null and "-" in its
      // message. 1.40 logs one full line. From the second request on every version is as 1.40 (the tests above).
      it('first request for a model not loaded yet: the contract status and error on every version; log line and metadata as each version has them', async () => {
        const [okPath, downPath] = ['/v2/models/firstok/infer', '/v2/models/firstdown/infer'];
        const ok = await restInfer(sidecar, okPath);
        const down = parsed(await restInfer(sidecar, downPath));
        expect(ok.status).toBe(200);
        expect(down).toMatchObject({ status: 503, type: JSON_TYPE, body: { error: 'upstream_unavailable', detail: REFUSED } });

        const [major = 0, minor = 0] = binary.version.split('.').map(Number);
        const recreates = major === 1 && minor < 40;
        const missesCluster = major === 1 && minor < 39;
        const lines = async (path: string) => {
          await logged(sidecar, path, 0, recreates ? 2 : 1);
          return accessLogLines(sidecar.envoy.log()).filter((line) => line['path'] === path)
            .map((line) => ({ code: line['response_code'], flags: line['response_flags'], attempts: line['attempts'], model: line['upstream_model'], cluster: line['upstream_cluster'] }));
        };
        const abandoned = { code: 0, flags: '-', attempts: 0, model: null, cluster: null };
        const served = (code: number, flags: string, name: string) => ({ code, flags, attempts: 1, model: missesCluster ? null : name, cluster: missesCluster ? null : `infermesh|${name}|main` });
        expect(await lines(okPath)).toEqual([...(recreates ? [abandoned] : []), served(200, '-', 'firstok')]);
        expect(await lines(downPath)).toEqual([...(recreates ? [abandoned] : []), served(503, 'UF', 'firstdown')]);
        expect(down.body).toEqual(missesCluster
          ? { error: 'upstream_unavailable', model: null, backend: null, message: 'backend - of model - could not be reached', detail: REFUSED }
          : errorBody('upstream_unavailable', 'firstdown', 'backend main of model firstdown could not be reached', REFUSED));

        // The second request is the steady state: one full line, the full body.
        const from = await loggedSoFar(sidecar, downPath);
        expect(parsed(await restInfer(sidecar, downPath))).toEqual({
          status: 503,
          type: JSON_TYPE,
          body: errorBody('upstream_unavailable', 'firstdown', 'backend main of model firstdown could not be reached', REFUSED),
        });
        expect(await logged(sidecar, downPath, from)).toEqual(['503 UF']);
      });

      it("gRPC callers keep Envoy's status and message", async () => {
        const empty = await grpcInfer(client, 'empty');
        const down = await grpcInfer(client, 'down');
        const slow = mesh.pod('slow-a');
        const held = mesh.pod('busy-a');
        slow.setFailure({ kind: 'delay', ms: 3_000 });
        held.setFailure({ kind: 'delay', ms: 600 });
        let late: GrpcOutcome;
        let burst: GrpcOutcome[];
        try {
          [late, burst] = await Promise.all([grpcInfer(client, 'slowgrpc'), Promise.all(Array.from({ length: 6 }, () => grpcInfer(client, 'busygrpc')))]);
        } finally {
          slow.setFailure({ kind: 'none' });
          held.setFailure({ kind: 'none' });
        }
        const overflowed = burst.flatMap((o) => (o.ok ? [] : [o]));
        expect(overflowed.length).toBeGreaterThanOrEqual(4);
        for (const o of overflowed) {
          expect({ code: o.code, details: o.details, overloaded: o.metadata['x-envoy-overloaded'] }).toEqual({ code: grpc.status.UNAVAILABLE, details: OVERFLOW, overloaded: 'true' });
        }
        expect(empty).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE, details: 'no healthy upstream' });
        expect(down).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE, details: REFUSED });
        // A route with max_stream_duration makes Envoy send the pod `grpc-timeout` set to the model's timeout, so a
        // gRPC server that keeps deadlines (grpc-js here, as most do) ends the call at the same 600 ms: either end may
        // answer first. Both are DEADLINE_EXCEEDED at the model's timeout, long before the caller's own 5 s deadline.
        expect(late).toMatchObject({ ok: false, code: grpc.status.DEADLINE_EXCEEDED });
        expect(['downstream duration timeout', 'Deadline exceeded']).toContain(late.ok ? undefined : late.details);
        expect(late.ms).toBeLessThan(2_000);
      });
    });
  });
});
