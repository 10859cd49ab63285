/**
 * Configuration changes under a steady stream of requests through real Envoy sidecars, on every pinned
 * Envoy (two sidecars per version, fed by their own control
 * plane replicas from one folder, loaded at the same time). While resnet50 (gRPC, HTTP/2 upstream) and
 * bert (REST, HTTP/1.1 upstream) are called without pause: a canary weight change, a model added and removed,
 * bert's endpoints scaled up and down, and a bad edit. The models that stay fail no request; the added
 * model answers 404 (unknown model) or 200 and the removed one 200 or 404, never a 503 from a route that
 * names a cluster Envoy does not have yet (or any more): clusters before routes, routes before removals.
 * The bad edit changes nothing Envoy runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { SteadyLoad, type Outcome } from './steady-load.ts';

const resnet = (stable: number, canary: number, extra = '') => `
model: resnet50
server: triton
protocol: grpc
backends:
  - { name: stable, service: resnet50-v1, port: grpc, version: "1", weight: ${stable} }
  - { name: canary, service: resnet50-v2, port: grpc, version: "2", weight: ${canary} }
${extra}`;
const bert = 'model: bert\nserver: tfserving\nprotocol: http\nbackends: [{ name: main, service: bert, port: http }]\n';
const gpt2 = 'model: gpt2\nserver: triton\nprotocol: http\nbackends: [{ name: main, service: gpt2, port: http }]\n';

const BERT_SCALE_POD: PodSpec = { kind: 'tfserving', host: '127.0.0.84', pod: 'bert-1', service: 'bert', models: ['bert'], version: '1' };
const PODS: PodSpec[] = [
  { kind: 'triton', host: '127.0.0.80', pod: 'resnet50-v1-0', service: 'resnet50-v1', models: ['resnet50'], version: '1' },
  { kind: 'triton', host: '127.0.0.81', pod: 'resnet50-v2-0', service: 'resnet50-v2', models: ['resnet50'], version: '2' },
  { kind: 'tfserving', host: '127.0.0.83', pod: 'bert-0', service: 'bert', models: ['bert'], version: '1' },
  { kind: 'triton', host: '127.0.0.85', pod: 'gpt2-0', service: 'gpt2', models: ['gpt2'], version: '1' },
  BERT_SCALE_POD,
];
/** Two sidecars per Envoy version, each fed by its own control-plane replica. */
const SIDECARS = ['a', 'b'] as const;

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start(PODS.filter((p) => p !== BERT_SCALE_POD), { 'resnet50-policy': resnet(100, 0), 'bert-policy': bert });
  // The scale-up pod runs from the start; only the EndpointSlices decide whether Envoy knows it.
  mesh.specs.push(BERT_SCALE_POD);
  const { startFakeModelServer } = await import('../../demo/fake-model-server.ts');
  mesh.pods.set(BERT_SCALE_POD.pod, await startFakeModelServer(BERT_SCALE_POD));
  mesh.specs.pop();
}, 30_000);

afterAll(async () => {
  await mesh?.close();
});

const summary = (outcomes: Outcome[]) => outcomes.slice(0, 5).map((o) => `${o.status} ${o.detail ?? ''}`.trim());
const podsOf = (outcomes: Outcome[]) => new Set(outcomes.map((o) => o.pod));

describeWithTool('changes under load through real Envoy sidecars', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describe(`Envoy ${binary.version}`, () => {
      const sidecars: Sidecar[] = [];
      const loads: SteadyLoad[] = [];

      beforeAll(async () => {
        await mesh.writePolicy('resnet50-policy', resnet(100, 0));
        await mesh.writePolicy('bert-policy', bert);
        for (const name of SIDECARS) sidecars.push(await Sidecar.start(mesh, binary, `load-${name}-${binary.version}`));
      }, 30_000);

      afterAll(async () => {
        await Promise.all(loads.map((load) => load.stop()));
        await Promise.all(sidecars.map((sidecar) => sidecar.stop(failures.failed)));
        await mesh.writeFileAtomically('gpt2-policy.yaml', '# removed\n');
      });

      /** Waits until every sidecar's newest outcomes of `label` satisfy `check`. */
      const settled = (label: string, check: (recent: Outcome[]) => void, timeoutMs = 10_000) =>
        Promise.all(loads.map((load) => eventually(() => {
          const recent = (load.outcomes.get(label) ?? []).slice(-10);
          expect(recent.length).toBe(10);
          check(recent);
        }, { timeoutMs })));

      it('keeps every request for the models that stay while weights, models, endpoints change and a bad edit lands', async () => {
        for (const sidecar of sidecars) {
          const load = new SteadyLoad(sidecar.url);
          load.start('resnet50', { kind: 'grpc', model: 'resnet50' });
          load.start('bert', { kind: 'rest', model: 'bert', path: '/v1/models/bert:predict' });
          load.start('gpt2', { kind: 'rest', model: 'gpt2', path: '/v2/models/gpt2/infer' }, 1);
          loads.push(load);
        }
        await settled('resnet50', (recent) => expect(podsOf(recent)).toEqual(new Set(['resnet50-v1-0'])));
        await settled('gpt2', (recent) => expect(recent.every((o) => o.status === 404)).toBe(true));

        // Canary weight: all traffic moves from stable to canary.
        await mesh.writePolicy('resnet50-policy', resnet(0, 100));
        await settled('resnet50', (recent) => expect(podsOf(recent)).toEqual(new Set(['resnet50-v2-0'])));

        // A model added, then removed.
        const added = Date.now();
        await mesh.writePolicy('gpt2-policy', gpt2);
        await settled('gpt2', (recent) => expect(recent.every((o) => o.ok)).toBe(true));
        const removed = Date.now();
        await mesh.writeFileAtomically('gpt2-policy.yaml', '# removed\n');
        await settled('gpt2', (recent) => expect(recent.every((o) => o.status === 404)).toBe(true));

        // Endpoints scaled up, then down.
        mesh.specs.push(BERT_SCALE_POD);
        await mesh.writeSlices();
        await settled('bert', (recent) => expect(podsOf(recent)).toEqual(new Set(['bert-0', 'bert-1'])));
        mesh.specs.pop();
        await mesh.writeSlices();
        await settled('bert', (recent) => expect(podsOf(recent)).toEqual(new Set(['bert-0'])));

        // A bad edit: rejected by validation, so the last good resnet50 keeps serving and nothing is pushed.
        const before = await Promise.all(sidecars.map((s) => dynamicVersions(s)));
        const pushes = await Promise.all(sidecars.map((s) => pushCount(s)));
        await mesh.writePolicy('resnet50-policy', resnet(100, 0, 'retries: { atempts: 1 }'));
        for (const sidecar of sidecars) {
          await eventually(() => expect(sidecar.controlPlane.controller.status().models.find((m) => m.model === 'resnet50')?.state).toBe('stale'));
        }
        const afterBadEdit = Date.now();
        await settled('resnet50', (recent) => expect(recent.every((o) => o.at > afterBadEdit)).toBe(true));
        expect(await Promise.all(sidecars.map((s) => dynamicVersions(s)))).toEqual(before);
        expect(await Promise.all(sidecars.map((s) => pushCount(s)))).toEqual(pushes);
        for (const load of loads) expect(podsOf(load.since('resnet50', afterBadEdit))).toEqual(new Set(['resnet50-v2-0']));

        await Promise.all(loads.map((load) => load.stop()));
        for (const [i, load] of loads.entries()) {
          const flavour = `sidecar ${SIDECARS[i]}`;
          for (const model of ['resnet50', 'bert']) {
            expect(load.outcomes.get(model)!.length, `${flavour} ${model} requests`).toBeGreaterThan(100);
            expect(summary(load.failures(model)), `${flavour} ${model} failed requests`).toEqual([]);
          }
          // The added and removed model: 404 before and after, 200 between, never a 5xx or a reset.
          const gpt = load.outcomes.get('gpt2')!;
          const odd = gpt.filter((o) => o.status !== 200 && o.status !== 404).map((o) => `${o.status} ${o.at - added}ms after the add, ${o.at - removed}ms after the removal: ${o.detail ?? ''}`);
          expect(odd, `${flavour} gpt2 answers other than 200/404`).toEqual([]);
          expect(gpt.filter((o) => o.at < added).every((o) => o.status === 404)).toBe(true);
          expect(gpt.filter((o) => o.at > added && o.at < removed).some((o) => o.ok)).toBe(true);
        }
      }, 90_000);
    });
  }
});

interface ConfigDump {
  configs: { '@type': string; dynamic_active_clusters?: { version_info: string }[]; dynamic_route_configs?: { version_info: string }[]; dynamic_listeners?: { active_state?: { version_info: string } }[] }[];
}

/** The versions Envoy runs: every dynamic cluster's, route configuration's and listener's version_info. */
async function dynamicVersions(sidecar: Sidecar): Promise<string[]> {
  const dump = await sidecar.envoy.adminJson<ConfigDump>('/config_dump');
  return dump.configs.flatMap((c) => [
    ...(c.dynamic_active_clusters ?? []).map((x) => x.version_info),
    ...(c.dynamic_route_configs ?? []).map((x) => x.version_info),
    ...(c.dynamic_listeners ?? []).map((x) => x.active_state?.version_info ?? ''),
  ]).sort();
}

/** DiscoveryResponses the sidecar's control plane sent, all types together. */
async function pushCount(sidecar: Sidecar): Promise<number> {
  const { values } = await sidecar.controlPlane.metrics.pushes.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}
