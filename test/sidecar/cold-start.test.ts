/**
 * Cold-start holds (policy `coldStart`, README "Policy reference") through a real Envoy sidecar on every
 * pinned version: a request sent while its model's only pod does not have it loaded waits (ext_proc to the
 * control plane) and succeeds once the pod loads it, for REST and gRPC callers; with nothing becoming ready
 * it fails after holdFor with the 503 JSON / UNAVAILABLE naming the model; a model without coldStart still
 * fails at once; once ready, requests no longer reach the control plane; a call pinned (by header or path) to
 * a version with no ready pod is held while the split serves; a caller that gives up ends its hold. Readiness probes every 1 s.
 * Pods on 127.0.4.1 and 127.0.4.3.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { COLD_START_HEADER } from '../../src/envoy/cold-start.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { grpcInfer, restInfer, sidecarClient } from './resilience-calls.ts';

const lookup = envoyBinaries();
const versions = lookup.found ? lookup.value.map((binary) => binary.version) : [];
/** Each Envoy version loads its own models, so one version's loads do not make another's ready. */
const tag = (version: string) => version.replaceAll('.', '-');

// cs-b serves version 2, of nothing at first; each `pinned-*` model's version 1 (its whole split) is on cs-a.
const PODS: PodSpec[] = [
  { kind: 'triton', host: '127.0.4.1', pod: 'cs-a', service: 'cs', models: ['warm', ...versions.map((version) => `pinned-${tag(version)}`)], version: '1', onlyListedModels: true },
  { kind: 'triton', host: '127.0.4.3', pod: 'cs-b', service: 'cs2', models: [], version: '2', onlyListedModels: true },
];
const PROBE_INTERVAL_MS = 1_000;
const SHORT_HOLD_S = 2;
const BURST = 200;

const policy = (name: string, protocol: 'http' | 'grpc', rest = '') => `model: ${name}
server: triton
protocol: ${protocol}
backends: [{ name: main, service: cs, port: ${protocol} }]
retries: { attempts: 0 }
${rest}`;

const pinnedPolicy = (name: string) => `model: ${name}
server: triton
protocol: http
backends:
  - { name: main, service: cs, port: http, version: "1", weight: 1 }
  - { name: next, service: cs2, port: http, version: "2", weight: 0 }
retries: { attempts: 0 }
coldStart: { holdFor: 30s }`;

const POLICIES: Record<string, string> = {
  warm: policy('warm', 'http'),
  shortrest: policy('shortrest', 'http', `coldStart: { holdFor: ${SHORT_HOLD_S}s }`),
  shortgrpc: policy('shortgrpc', 'grpc', `coldStart: { holdFor: ${SHORT_HOLD_S}s }`),
  nohold: policy('nohold', 'http'),
  longrest: policy('longrest', 'http', 'coldStart: { holdFor: 30s }'),
  ...Object.fromEntries(versions.flatMap((version) => [
    [`rest-${tag(version)}`, policy(`rest-${tag(version)}`, 'http', 'coldStart: { holdFor: 30s }')],
    [`grpc-${tag(version)}`, policy(`grpc-${tag(version)}`, 'grpc', 'coldStart: { holdFor: 30s }')],
    [`burst-${tag(version)}`, policy(`burst-${tag(version)}`, 'http', 'coldStart: { holdFor: 30s }')],
    [`pinned-${tag(version)}`, pinnedPolicy(`pinned-${tag(version)}`)],
  ])),
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Envoy's ext_proc stream counter (streams opened to the control plane), summed over its stat names. */
async function extProcStreams(sidecar: Sidecar): Promise<number> {
  const text = await sidecar.envoy.admin('/stats?filter=ext_proc.*streams_started');
  return [...text.matchAll(/streams_started: (\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
}

/** Held requests of a model on the sidecar's control plane replica (infermesh_cold_start_held_requests). */
async function heldOn(sidecar: Sidecar, model: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${sidecar.controlPlane.adminPort}/metrics`)).text();
  const match = new RegExp(`^infermesh_cold_start_held_requests\\{model="${model}"\\} (\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

const measured: string[] = [];

describeWithTool('cold-start holds through a real Envoy sidecar', lookup, (binaries) => {
  const failures = trackFailures();
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, POLICIES, undefined, { probeIntervalMs: PROBE_INTERVAL_MS });
  });
  afterAll(async () => {
    await mesh?.close();
    if (measured.length > 0) console.log(`cold start, measured:\n${measured.join('\n')}`);
  });

  binaries.forEach((binary) => {
    describe(`Envoy ${binary.version}`, () => {
      let sidecar: Sidecar;
      let client: TritonClient;
      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `cold-start-${process.pid}-${binary.version}`);
        client = sidecarClient(sidecar);
      });
      afterAll(async () => {
        client?.close();
        await sidecar?.stop(failures.failed);
      });

      it('holds a REST request until the pod loads the model, then it succeeds', async () => {
        const model = `rest-${tag(binary.version)}`;
        const sent = performance.now();
        const call = restInfer(sidecar, `/v2/models/${model}/infer`, 40_000);
        await eventually(async () => expect(await heldOn(sidecar, model)).toBe(1), { timeoutMs: 10_000 });
        await sleep(1_000);
        const readyAt = performance.now();
        await mesh.pod('cs-a').load(model);
        const answer = await call;
        expect(answer.status, answer.body).toBe(200);
        expect(answer.headers.get(COLD_START_HEADER)).toBeNull();
        const afterReady = performance.now() - readyAt;
        measured.push(`Envoy ${binary.version} REST: held ${Math.round(answer.ms)} ms in all, answered ${Math.round(afterReady)} ms after the pod loaded the model`);
        // At most one probe interval, the reconcile, the push and the ACK.
        expect(afterReady).toBeLessThan(PROBE_INTERVAL_MS + 3_000);
        expect(readyAt - sent).toBeGreaterThan(1_000);
        // Once ready, the table no longer enables the hold: requests do not reach the control plane.
        const before = await extProcStreams(sidecar);
        expect(before).toBeGreaterThan(0);
        await eventually(async () => {
          const again = await restInfer(sidecar, `/v2/models/${model}/infer`);
          expect(again.status).toBe(200);
          expect(await extProcStreams(sidecar)).toBe(before);
        });
      });

      it('holds a gRPC call until the pod loads the model, then it succeeds', async () => {
        const model = `grpc-${tag(binary.version)}`;
        const call = grpcInfer(client, model, 40_000);
        await eventually(async () => expect(await heldOn(sidecar, model)).toBe(1), { timeoutMs: 10_000 });
        await sleep(1_000);
        const readyAt = performance.now();
        await mesh.pod('cs-a').load(model);
        const answer = await call;
        expect(answer.ok, JSON.stringify(answer)).toBe(true);
        const afterReady = performance.now() - readyAt;
        measured.push(`Envoy ${binary.version} gRPC: held ${Math.round(answer.ms)} ms in all, answered ${Math.round(afterReady)} ms after the pod loaded the model`);
        expect(afterReady).toBeLessThan(PROBE_INTERVAL_MS + 3_000);
      });

      it(`holds a burst of ${BURST} concurrent requests (scale from zero) and every one succeeds once the pod loads the model`, async () => {
        const model = `burst-${tag(binary.version)}`;
        const calls = Array.from({ length: BURST }, () => restInfer(sidecar, `/v2/models/${model}/infer`, 40_000));
        // Each is one ext_proc stream over the sidecar's xDS cluster (whose circuit breakers the bootstrap raises to 100,000 requests).
        await eventually(async () => expect(await heldOn(sidecar, model)).toBe(BURST), { timeoutMs: 15_000 });
        const readyAt = performance.now();
        await mesh.pod('cs-a').load(model);
        const answers = await Promise.all(calls);
        expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
        measured.push(`Envoy ${binary.version} burst: ${BURST} held calls all answered within ${Math.round(performance.now() - readyAt)} ms after the pod loaded the model`);
      });

      it(`fails a REST request after holdFor (${SHORT_HOLD_S}s) with a 503 JSON naming the model`, async () => {
        const answer = await restInfer(sidecar, '/v2/models/shortrest/infer', 20_000);
        expect(answer.status, answer.body).toBe(503);
        expect(answer.headers.get(COLD_START_HEADER)).toBe('shortrest');
        expect(answer.headers.get('content-type')).toBe('application/json');
        expect(JSON.parse(answer.body)).toEqual({ error: 'model_not_ready', model: 'shortrest', message: `no ready pod for model shortrest within ${SHORT_HOLD_S}s` });
        measured.push(`Envoy ${binary.version} REST timeout: 503 after ${Math.round(answer.ms)} ms (holdFor ${SHORT_HOLD_S}s)`);
        expect(answer.ms).toBeGreaterThan(SHORT_HOLD_S * 1_000 - 50);
        expect(answer.ms).toBeLessThan(SHORT_HOLD_S * 1_000 + 2_000);
      });

      it(`fails a gRPC call after holdFor (${SHORT_HOLD_S}s) with UNAVAILABLE naming the model`, async () => {
        const answer = await grpcInfer(client, 'shortgrpc', 20_000);
        expect(answer.ok).toBe(false);
        if (answer.ok) return;
        expect(answer.code).toBe(grpc.status.UNAVAILABLE);
        expect(answer.details).toBe(`no ready pod for model shortgrpc within ${SHORT_HOLD_S}s`);
        expect(answer.metadata[COLD_START_HEADER]).toBe('shortgrpc');
        measured.push(`Envoy ${binary.version} gRPC timeout: UNAVAILABLE after ${Math.round(answer.ms)} ms (holdFor ${SHORT_HOLD_S}s)`);
        expect(answer.ms).toBeGreaterThan(SHORT_HOLD_S * 1_000 - 50);
        expect(answer.ms).toBeLessThan(SHORT_HOLD_S * 1_000 + 2_000);
      });

      it('holds a call pinned to a version with no ready pod (by header and by path) while the split serves; both succeed on that version once loaded', async () => {
        const model = `pinned-${tag(binary.version)}`;
        const post = (path: string, headers: Record<string, string> = {}) => fetch(`${sidecar.url}${path}`, {
          method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{}', signal: AbortSignal.timeout(40_000),
        }).then(async (response) => ({ status: response.status, body: await response.text() }));
        const byHeader = post(`/v2/models/${model}/infer`, { 'x-model-version': '2' });
        const byPath = post(`/v2/models/${model}/versions/2/infer`);
        await eventually(async () => expect(await heldOn(sidecar, model)).toBe(2), { timeoutMs: 10_000 });
        // The split (version 1) is ready: an unpinned call and a call pinned to 1 are not held.
        for (const served of [await post(`/v2/models/${model}/infer`), await post(`/v2/models/${model}/versions/1/infer`)]) {
          expect(served.status, served.body).toBe(200);
          expect(JSON.parse(served.body)).toMatchObject({ served_by: 'cs-a', model_version: '1' });
        }
        expect(await heldOn(sidecar, model)).toBe(2);
        const readyAt = performance.now();
        await mesh.pod('cs-b').load(model);
        for (const answer of await Promise.all([byHeader, byPath])) {
          expect(answer.status, answer.body).toBe(200);
          expect(JSON.parse(answer.body)).toMatchObject({ served_by: 'cs-b', model_version: '2' });
        }
        measured.push(`Envoy ${binary.version} version pin: 2 held calls answered ${Math.round(performance.now() - readyAt)} ms after the pod loaded version 2`);
      });

      it('ends the hold when the caller gives up', async () => {
        const gone = new AbortController();
        const call = fetch(`${sidecar.url}/v2/models/longrest/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}', signal: gone.signal });
        await eventually(async () => expect(await heldOn(sidecar, 'longrest')).toBe(1), { timeoutMs: 10_000 });
        gone.abort();
        await expect(call).rejects.toThrow();
        // Well before its 30s holdFor: Envoy closes the ext_proc stream when the downstream goes away.
        await eventually(async () => expect(await heldOn(sidecar, 'longrest')).toBe(0), { timeoutMs: 5_000 });
      });

      it('fails a model without coldStart at once, without asking the control plane', async () => {
        const before = await extProcStreams(sidecar);
        const answer = await restInfer(sidecar, '/v2/models/nohold/infer');
        expect(answer.status, answer.body).toBe(503);
        // (Envoy 1.38.3 leaves the model out of this body for a cluster it has just loaded on demand.)
        expect(JSON.parse(answer.body), answer.body).toMatchObject({ error: 'no_healthy_upstream' });
        expect(answer.ms).toBeLessThan(1_000);
        expect(await extProcStreams(sidecar)).toBe(before);
      });
    });
  });
});
