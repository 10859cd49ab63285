/**
 * The resilience part of a model's policy, through a real Envoy sidecar on every pinned version (SotW and
 * delta ADS alternate by version): retries land on another host, per-try and overall timeouts hold,
 * outlier detection ejects a failing pod, circuit breakers overflow with x-envoy-overloaded, and upstreams
 * speak the protocol the policy names. Pods on 127.0.0.60-127.0.0.79.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { at, clusterCounters, grpcInfer, repeat, restInfer, sidecarClient, type GrpcOutcome } from './resilience-calls.ts';

const pod = (name: string, host: string, service: string, kind: PodSpec['kind'] = 'triton'): PodSpec => ({
  kind,
  host,
  pod: name,
  service,
  models: [service],
  version: '1',
});

const PODS: PodSpec[] = [
  { ...pod('retry-a', '127.0.0.60', 'retry'), models: ['retry', 'retry-again'] },
  { ...pod('retry-b', '127.0.0.61', 'retry'), models: ['retry', 'retry-again'] },
  pod('connect-a', '127.0.0.62', 'connect'),
  pod('connect-dead', '127.0.0.63', 'connect'),
  pod('pertry-slow', '127.0.0.64', 'pertry'),
  pod('pertry-fast', '127.0.0.65', 'pertry'),
  { ...pod('deadline-a', '127.0.0.66', 'deadline'), models: ['deadline', 'deadlinerest', 'tryonly'] },
  pod('outlier-a', '127.0.0.67', 'outlier'),
  pod('outlier-b', '127.0.0.68', 'outlier'),
  pod('outlier-c', '127.0.0.69', 'outlier'),
  pod('breaker-a', '127.0.0.70', 'breaker'),
  pod('breaker-grpc-a', '127.0.0.71', 'breakergrpc'),
  pod('budget-failing', '127.0.0.74', 'budget'),
  pod('budget-slow', '127.0.0.75', 'budget'),
  { ...pod('rest-a', '127.0.0.72', 'rest', 'tfserving'), models: ['rest', 'resth2'] },
  { ...pod('rest-b', '127.0.0.73', 'rest', 'tfserving'), models: ['rest', 'resth2'] },
];

const backend = (service: string, port = 'grpc') => `backends: [{ name: main, service: ${service}, port: ${port}, version: "1" }]`;
/** Most models share this policy, so the sidecar table hoists it to its virtual host (routes inherit it). */
const SHARED_RETRIES = 'retries: { attempts: 2, retryOn: [unavailable, connect-failure], backoff: { base: 5ms, max: 20ms } }';

const POLICIES: Record<string, string> = {
  retry: `model: retry
aliases: [retry-again]
server: triton
${backend('retry')}
${SHARED_RETRIES}
outlierDetection: null`,
  connect: `model: connect
server: triton
${backend('connect')}
${SHARED_RETRIES}
outlierDetection: null`,
  rest: `model: rest
server: tfserving
protocol: http
${backend('rest', 'http')}
outlierDetection: null`,
  // The same REST port as \`rest\`, but protocol grpc: Envoy must speak h2c to it (the fake's REST port takes both).
  resth2: `model: resth2
server: tfserving
protocol: grpc
${backend('rest', 'http')}
outlierDetection: null`,
  pertry: `model: pertry
server: triton
${backend('pertry')}
timeout: 5s
retries: { attempts: 2, perTryTimeout: 250ms, retryOn: [unavailable, reset], backoff: { base: 5ms, max: 20ms } }
outlierDetection: null`,
  deadline: `model: deadline
server: triton
${backend('deadline')}
timeout: 600ms
retries: { attempts: 5, perTryTimeout: 250ms, retryOn: [unavailable, reset], backoff: { base: 5ms, max: 20ms } }
outlierDetection: null`,
  deadlinerest: `model: deadlinerest
server: triton
protocol: http
${backend('deadline', 'http')}
timeout: 600ms
retries: { attempts: 5, perTryTimeout: 250ms, retryOn: [unavailable, reset], backoff: { base: 5ms, max: 20ms } }
outlierDetection: null`,
  tryonly: `model: tryonly
server: triton
${backend('deadline')}
timeout: 5s
retries: { attempts: 2, perTryTimeout: 250ms, retryOn: [unavailable] }
outlierDetection: null`,
  outlier: `model: outlier
server: triton
${backend('outlier')}
retries: { attempts: 0 }
outlierDetection: { consecutiveErrors: 3, interval: 100ms, baseEjectionTime: 1m, maxEjectionPercent: 50, failurePercentage: null }`,
  breaker: `model: breaker
server: triton
protocol: http
${backend('breaker', 'http')}
retries: { attempts: 0 }
outlierDetection: null
circuitBreaker: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 1, maxRetries: 1 }`,
  breakergrpc: `model: breakergrpc
server: triton
${backend('breakergrpc')}
${SHARED_RETRIES}
outlierDetection: null
circuitBreaker: { maxConnections: 1, maxPendingRequests: 1, maxRequests: 2, maxRetries: 1 }`,
  budget: `model: budget
server: triton
${backend('budget')}
${SHARED_RETRIES}
outlierDetection: null
circuitBreaker: { maxRetries: 1 }`,
};

const DELAY_MS = 3_000;
const cluster = (model: string) => `infermesh|${model}|main`;

/** Counter changes of a cluster while `action` runs. */
async function countersDuring(sidecar: Sidecar, model: string, action: () => Promise<void>): Promise<(name: string) => number> {
  const before = await clusterCounters(sidecar, cluster(model));
  await action();
  const after = await clusterCounters(sidecar, cluster(model));
  return (name) => (after.get(name) ?? 0) - (before.get(name) ?? 0);
}

const servedBy = (outcomes: GrpcOutcome[]) => new Set(outcomes.map((o) => (o.ok ? o.pod : `failed: ${o.code} ${o.details}`)));

describeWithTool('resilience policy through a real Envoy sidecar', envoyBinaries(), (binaries) => {
  const failures = trackFailures();
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, POLICIES);
    // Its address stays in the EndpointSlice: connecting to it is refused.
    await mesh.pod('connect-dead').close();
  });
  afterAll(async () => {
    await mesh?.close();
  });

  binaries.forEach((binary) => {
    describe(`Envoy ${binary.version}`, () => {
      let sidecar: Sidecar;
      let client: TritonClient;

      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary);
        client = sidecarClient(sidecar);
        await eventually(async () => expect((await grpcInfer(client, 'outlier')).ok).toBe(true));
      }, 30_000);
      afterAll(async () => {
        client?.close();
        await sidecar?.stop(failures.failed);
      });

      it("the retry model's own table, loaded on its first call, carries its retry policy once, on the virtual host", async () => {
        await eventually(async () => expect((await grpcInfer(client, 'retry')).ok).toBe(true));
        const dump = await sidecar.envoy.adminJson('/config_dump?resource=dynamic_route_configs');
        const configs = at(dump, 'configs');
        const table = Array.isArray(configs) ? configs.map((c) => at(c, 'route_config')).find((c) => at(c, 'name') === 'infermesh/retry') : undefined;
        const host = at(table, 'virtual_hosts', 0);
        expect(at(host, 'retry_policy', 'retry_on')).toBe('unavailable,connect-failure');
        const routes = at(host, 'routes');
        const split = Array.isArray(routes) ? routes.find((route) => at(route, 'name') === 'retry') : undefined;
        expect(at(split, 'route', 'cluster')).toBe(cluster('retry'));
        expect(at(split, 'route', 'retry_policy')).toBeUndefined();
      });

      it('retries gRPC UNAVAILABLE on the other pod', async () => {
        const broken = mesh.pod('retry-a');
        broken.resetCounters();
        broken.setFailure({ kind: 'always', code: grpc.status.UNAVAILABLE });
        let outcomes: GrpcOutcome[] = [];
        try {
          const delta = await countersDuring(sidecar, 'retry', async () => {
            outcomes = [...(await repeat(10, () => grpcInfer(client, 'retry'))), ...(await repeat(10, () => grpcInfer(client, 'retry-again')))];
          });
          expect(servedBy(outcomes)).toEqual(new Set(['retry-b']));
          // Round robin sends first tries to the broken pod (most of them: each retry moves the turn on); each
          // of those was retried once, on the other pod.
          expect(broken.failures).toBeGreaterThanOrEqual(5);
          expect(delta('upstream_rq_retry')).toBe(broken.failures);
          expect(delta('upstream_rq_retry_success')).toBe(broken.failures);
        } finally {
          broken.setFailure({ kind: 'none' });
        }
      });

      it('retries a connect failure on the other pod', async () => {
        let outcomes: GrpcOutcome[] = [];
        const delta = await countersDuring(sidecar, 'connect', async () => {
          outcomes = await repeat(20, () => grpcInfer(client, 'connect'));
        });
        expect(servedBy(outcomes)).toEqual(new Set(['connect-a']));
        expect(delta('upstream_cx_connect_fail')).toBeGreaterThanOrEqual(5);
        expect(delta('upstream_rq_retry_success')).toBe(delta('upstream_cx_connect_fail'));
      });

      it("the default policy retries a REST pod's 503 on the other pod (protocol http)", async () => {
        const broken = mesh.pod('rest-a');
        broken.resetCounters();
        broken.setFailure({ kind: 'always' });
        try {
          const outcomes = await repeat(10, () => restInfer(sidecar, '/v1/models/rest:predict'));
          expect(outcomes.map((o) => `${o.status} ${o.headers.get('x-served-by')}`)).toEqual(Array.from({ length: 10 }, () => '200 rest-b'));
          expect(broken.failures).toBeGreaterThanOrEqual(3);
        } finally {
          broken.setFailure({ kind: 'none' });
        }
      });

      it('a per-try timeout moves a slow call to the other pod', async () => {
        const slow = mesh.pod('pertry-slow');
        slow.resetCounters();
        slow.setFailure({ kind: 'delay', ms: DELAY_MS });
        let outcomes: GrpcOutcome[] = [];
        try {
          const delta = await countersDuring(sidecar, 'pertry', async () => {
            outcomes = await repeat(6, () => grpcInfer(client, 'pertry'));
          });
          expect(servedBy(outcomes)).toEqual(new Set(['pertry-fast']));
          expect(slow.requests).toBeGreaterThanOrEqual(3);
          expect(delta('upstream_rq_per_try_timeout')).toBe(slow.requests);
          // A try on the slow pod costs the 250 ms per-try timeout, not the pod's 3 s.
          expect(Math.max(...outcomes.map((o) => o.ms))).toBeLessThan(1_500);
        } finally {
          slow.setFailure({ kind: 'none' });
        }
      });

      it('a try that runs out is not retried when retryOn lacks reset', async () => {
        const slow = mesh.pod('deadline-a');
        slow.resetCounters();
        slow.setFailure({ kind: 'delay', ms: DELAY_MS });
        try {
          const outcome = await grpcInfer(client, 'tryonly');
          expect(outcome).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE, details: 'upstream request timeout' });
          expect(outcome.ms).toBeGreaterThanOrEqual(240);
          expect(outcome.ms).toBeLessThan(1_000);
          expect(slow.requests).toBe(1);
        } finally {
          slow.setFailure({ kind: 'none' });
        }
      });

      it('the overall timeout ends a call however many retries are left', async () => {
        const slow = mesh.pod('deadline-a');
        slow.resetCounters();
        slow.setFailure({ kind: 'delay', ms: DELAY_MS });
        try {
          const [viaGrpc, viaRest] = await Promise.all([grpcInfer(client, 'deadline'), restInfer(sidecar, '/v2/models/deadlinerest/infer')]);
          // max_stream_duration ends the stream: gRPC callers get DEADLINE_EXCEEDED as proxyless clients do.
          expect(viaGrpc).toMatchObject({ ok: false, code: grpc.status.DEADLINE_EXCEEDED, details: 'downstream duration timeout' });
          expect({ status: viaRest.status, body: JSON.parse(viaRest.body) }).toMatchObject({ status: 504, body: { error: 'timeout', detail: 'downstream duration timeout' } });
          for (const ms of [viaGrpc.ms, viaRest.ms]) {
            expect(ms).toBeGreaterThanOrEqual(590);
            expect(ms).toBeLessThan(1_400);
          }
          // Six tries of 250 ms were allowed; the 600 ms timeout ended both calls after two or three.
          expect(slow.requests).toBeGreaterThanOrEqual(4);
          expect(slow.requests).toBeLessThanOrEqual(6);
        } finally {
          slow.setFailure({ kind: 'none' });
        }
      });

      it('outlier detection ejects a failing pod and traffic moves to the others', async () => {
        const broken = mesh.pod('outlier-c');
        broken.setFailure({ kind: 'always', code: grpc.status.UNAVAILABLE });
        const marker = `${cluster('outlier')}::${broken.address()}::health_flags::/failed_outlier_check`;
        try {
          expect(await sidecar.envoy.admin('/clusters')).not.toContain(marker);
          const seen: GrpcOutcome[] = [];
          await eventually(async () => {
            seen.push(...(await repeat(3, () => grpcInfer(client, 'outlier'))));
            expect(await sidecar.envoy.admin('/clusters')).toContain(marker);
          }, { timeoutMs: 5_000, intervalMs: 0 });
          // The model's own empty retry policy overrides the hoisted one: its failures reached the caller (the
          // ejection is applied on Envoy's main thread, so one more call may have failed before it).
          expect(seen.filter((o) => !o.ok).length).toBeGreaterThanOrEqual(3);
          const before = broken.requests;
          const after = await repeat(20, () => grpcInfer(client, 'outlier'));
          expect(servedBy(after)).toEqual(new Set(['outlier-a', 'outlier-b']));
          expect(broken.requests).toBe(before);
        } finally {
          broken.setFailure({ kind: 'none' });
        }
      });

      it('circuit breaker overflow answers 503 with x-envoy-overloaded (REST, HTTP/1.1 upstream)', async () => {
        const held = mesh.pod('breaker-a');
        held.resetCounters();
        held.setFailure({ kind: 'delay', ms: 600 });
        try {
          const outcomes = await Promise.all(Array.from({ length: 6 }, () => restInfer(sidecar, '/v2/models/breaker/infer')));
          const overflowed = outcomes.filter((o) => o.status !== 200);
          // One request on the one connection, one pending; the other four overflow at once.
          expect(outcomes.length - overflowed.length).toBeGreaterThanOrEqual(1);
          expect(overflowed.length).toBeGreaterThanOrEqual(4);
          for (const o of overflowed) {
            expect({ status: o.status, overloaded: o.headers.get('x-envoy-overloaded') }).toEqual({ status: 503, overloaded: 'true' });
            expect(o.ms).toBeLessThan(500);
          }
          expect(held.maxInFlight).toBe(1);
        } finally {
          held.setFailure({ kind: 'none' });
        }
      });

      it('circuit breaker overflow answers UNAVAILABLE with x-envoy-overloaded, not retried (gRPC, HTTP/2 upstream)', async () => {
        const held = mesh.pod('breaker-grpc-a');
        const burst = async () => {
          let outcomes: GrpcOutcome[] = [];
          const delta = await countersDuring(sidecar, 'breakergrpc', async () => {
            outcomes = await Promise.all(Array.from({ length: 6 }, () => grpcInfer(client, 'breakergrpc')));
          });
          // The model retries UNAVAILABLE, but an overflow is Envoy's own answer and is never retried.
          expect(delta('upstream_rq_retry')).toBe(0);
          const overflowed = outcomes.flatMap((o) => (o.ok ? [] : [o]));
          for (const o of overflowed) {
            expect({ code: o.code, overloaded: o.metadata['x-envoy-overloaded'] }).toEqual({ code: grpc.status.UNAVAILABLE, overloaded: 'true' });
            expect(o.ms).toBeLessThan(500);
          }
          return outcomes.length - overflowed.length;
        };
        held.resetCounters();
        held.setFailure({ kind: 'delay', ms: 600 });
        try {
          // No connection to the pod yet: requests wait for it as pending (maxPendingRequests 1), the rest overflow.
          expect(await burst()).toBeLessThanOrEqual(2);
          // Connected: maxRequests (2) streams run at once, and a third overflows rather than waiting.
          held.resetCounters();
          expect(await burst()).toBe(2);
          expect(held.maxInFlight).toBe(2);
        } finally {
          held.setFailure({ kind: 'none' });
        }
      });

      it('circuit breaker maxRetries: one retry at a time, the others answer with the failure', async () => {
        const failing = mesh.pod('budget-failing');
        const slow = mesh.pod('budget-slow');
        failing.setFailure({ kind: 'always', code: grpc.status.UNAVAILABLE });
        slow.setFailure({ kind: 'delay', ms: 600 });
        failing.resetCounters();
        try {
          let outcomes: GrpcOutcome[] = [];
          const delta = await countersDuring(sidecar, 'budget', async () => {
            outcomes = await Promise.all(Array.from({ length: 6 }, () => grpcInfer(client, 'budget')));
          });
          // Round robin: about half the first tries fail at once; the first retry holds the only slot while
          // the slow pod answers it, so the next retries overflow and the caller gets the pod's failure.
          expect(failing.failures).toBeGreaterThanOrEqual(2);
          expect(delta('upstream_rq_retry')).toBeGreaterThanOrEqual(1);
          expect(delta('upstream_rq_retry_overflow')).toBe(failing.failures - delta('upstream_rq_retry'));
          expect(delta('upstream_rq_retry_overflow')).toBeGreaterThanOrEqual(1);
          const failed = outcomes.flatMap((o) => (o.ok ? [] : [o]));
          expect(failed.length).toBe(delta('upstream_rq_retry_overflow'));
          for (const o of failed) expect({ code: o.code, details: o.details }).toEqual({ code: grpc.status.UNAVAILABLE, details: expect.stringContaining('injected failure on budget-failing') });
        } finally {
          failing.setFailure({ kind: 'none' });
          slow.setFailure({ kind: 'none' });
        }
      });

      it('protocol http reaches the pod over HTTP/1.1, protocol grpc over HTTP/2', async () => {
        const restPods = [mesh.pod('rest-a'), mesh.pod('rest-b')];
        const grpcPod = mesh.pod('retry-b');
        const received = (pods: typeof restPods) => Object.fromEntries(pods.flatMap((p) => [...p.protocols]));
        for (const p of [...restPods, grpcPod]) p.resetCounters();
        expect((await restInfer(sidecar, '/v1/models/rest:predict')).status).toBe(200);
        expect(received(restPods)).toEqual({ 'HTTP/1.1': 1 });
        for (const p of restPods) p.resetCounters();
        expect((await restInfer(sidecar, '/v1/models/resth2:predict')).status).toBe(200);
        expect(received(restPods)).toEqual({ 'HTTP/2.0': 1 });
        await repeat(2, () => grpcInfer(client, 'retry'));
        expect(received([grpcPod])).toEqual({ 'HTTP/2.0': 1 });
        const restCluster = await clusterCounters(sidecar, cluster('rest'));
        const h2Cluster = await clusterCounters(sidecar, cluster('resth2'));
        expect([restCluster.get('upstream_cx_http1_total'), restCluster.get('upstream_cx_http2_total')]).toEqual([expect.any(Number), 0]);
        expect([h2Cluster.get('upstream_cx_http1_total'), h2Cluster.get('upstream_cx_http2_total')]).toEqual([0, expect.any(Number)]);
        expect(restCluster.get('upstream_cx_http1_total')).toBeGreaterThan(0);
        expect(h2Cluster.get('upstream_cx_http2_total')).toBeGreaterThan(0);
      });
    });
  });
});
