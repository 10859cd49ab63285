/**
 * Every traffic policy on one model at once, through a real Envoy sidecar on every pinned version: the sidecar
 * listener then carries the body-routing filters, the idle cold-start hold and the rate limit together, and the
 * model's clusters ring hash (affinity) over per-zone EDS priorities (zoneFailover). Each feature has its own
 * test file; this one holds their interplay:
 * - a body-routed call (no x-model header) for a model no pod has loaded is held, and succeeds once the pod in
 *   the other zone loads it (body routing -> hold -> failover to zone-b);
 * - once the caller's own zone loads it, body-routed calls stay in zone-a;
 * - the rate limit still answers 429 naming the model to body-routed calls.
 * Probes every 1 s. Pods on 127.0.0.251 (zone-a) and 127.0.0.252 (zone-b).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RATE_LIMITED_HEADER } from '../../src/envoy/rate-limit.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { post } from './json-post.ts';
import { repeat } from './resilience-calls.ts';

const PODS: PodSpec[] = [
  { kind: 'triton', host: '127.0.0.251', pod: 'together-a', service: 'together', models: [], version: '1', zone: 'zone-a', onlyListedModels: true },
  { kind: 'triton', host: '127.0.0.252', pod: 'together-b', service: 'together', models: [], version: '1', zone: 'zone-b', onlyListedModels: true },
];

const lookup = envoyBinaries();
const versions = lookup.found ? lookup.value.map((binary) => binary.version) : [];
/** Each Envoy version has its own model, so one version's loads do not make another's ready. */
const modelFor = (version: string) => `together-${version.replaceAll('.', '-')}`;
const BURST = 10;

const policy = (model: string) => `model: ${model}
server: triton
protocol: http
backends: [{ name: main, service: together, port: http }]
retries: { attempts: 0 }
modelFromBody: true
coldStart: { holdFor: 30s }
rateLimit: { requestsPerSecond: 1, burst: ${BURST} }
affinity: { header: x-session-id }
zoneFailover: { enabled: true }`;

const chat = (model: string) => `{"messages":[{"role":"user","content":"hi"}],"model":${JSON.stringify(model)}}`;

describeWithTool('every traffic policy on one model through a real Envoy sidecar', lookup, (binaries) => {
  const failures = trackFailures();
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, Object.fromEntries(versions.map((version) => [modelFor(version), policy(modelFor(version))])), undefined, { probeIntervalMs: 1_000 });
  });
  afterAll(async () => {
    await mesh?.close();
  });


  binaries.forEach((binary) => {
    describe(`Envoy ${binary.version}`, () => {
      const model = modelFor(binary.version);
      let sidecar: Sidecar;
      /** Requests held for the model by the sidecar's own control-plane replica. */
      const held = async (): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${sidecar.controlPlane.adminPort}/metrics`)).text();
        const match = new RegExp(`^infermesh_cold_start_held_requests\\{model="${model}"\\} (\\d+)`, 'm').exec(text);
        return match ? Number(match[1]) : 0;
      };
      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `together-${process.pid}-${binary.version}`, { zone: 'zone-a' });
      });
      afterAll(async () => {
        await sidecar?.stop(failures.failed);
      });

      it('a body-routed call for a model no pod has is held, then served by the other zone once it loads the model', async () => {
        const call = post(sidecar, '/v1/chat/completions', chat(model), { 'x-session-id': 's1' }, false, 40_000);
        await eventually(async () => expect(await held()).toBe(1), { timeoutMs: 10_000 });
        await mesh.pod('together-b').load(model);
        const answer = await call;
        expect(answer.status, JSON.stringify(answer.json)).toBe(200);
        expect(answer.headers['x-served-by']).toBe('together-b');
        expect(answer.json['model']).toBe(model);
      });

      it('once the caller\'s own zone has the model, body-routed calls stay there', async () => {
        await mesh.pod('together-a').load(model);
        await eventually(async () => {
          const answer = await post(sidecar, '/v1/chat/completions', chat(model), { 'x-session-id': 's1' });
          expect(answer.headers['x-served-by']).toBe('together-a');
        }, { timeoutMs: 10_000, intervalMs: 250 });
        const again = await post(sidecar, '/v1/chat/completions', chat(model), { 'x-session-id': 's2' });
        expect(again.headers['x-served-by']).toBe('together-a');
      });

      it('the rate limit answers 429 naming the model to body-routed calls', async () => {
        const answers = await repeat(BURST * 3, () => post(sidecar, '/v1/chat/completions', chat(model)), 10);
        const limited = answers.filter((answer) => answer.status === 429);
        expect(limited.length).toBeGreaterThanOrEqual(BURST);
        expect(limited[0]?.headers[RATE_LIMITED_HEADER]).toBe(model);
        expect(limited[0]?.json['error']).toBe('rate_limited');
        expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThan(0);
      });
    });
  });
});
