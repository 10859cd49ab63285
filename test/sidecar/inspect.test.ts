/**
 * `infermesh inspect` against the live admin API of a real Envoy sidecar, on every pinned Envoy, after
 * traffic: the per-model table's request counts are the ones the fake pods counted, endpoints and config
 * versions are Envoy's, and with --server the control plane's view is joined in.
 */
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import type { InspectView } from '../../src/inspect/view.ts';
import { Mesh } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { SteadyLoad } from './steady-load.ts';

const resnet = `model: resnet50
server: triton
backends:
  - { name: stable, service: resnet50-v1, port: grpc, version: "1", weight: 50 }
  - { name: canary, service: resnet50-v2, port: grpc, version: "2", weight: 50 }
`;
const bert = 'model: bert\nserver: tfserving\nprotocol: http\nbackends: [{ name: main, service: bert, port: http }]\n';

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start(
    [
      { kind: 'triton', host: '127.0.0.90', pod: 'resnet50-v1-0', service: 'resnet50-v1', models: ['resnet50'], version: '1' },
      { kind: 'triton', host: '127.0.0.91', pod: 'resnet50-v2-0', service: 'resnet50-v2', models: ['resnet50'], version: '2' },
      { kind: 'tfserving', host: '127.0.0.92', pod: 'bert-0', service: 'bert', models: ['bert'], version: '1' },
    ],
    { 'resnet50-policy': resnet, 'bert-policy': bert },
  );
}, 30_000);

afterAll(async () => {
  await mesh?.close();
});

async function inspect(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((out += chunk.toString()), done()) });
  const code = await main(['inspect', ...argv], sink, new Writable({ write: (_c, _e, done) => done() }));
  return { code, out };
}

/** Sends requests through the sidecar until each model has had `count`. */
async function traffic(sidecar: Sidecar, count: number): Promise<void> {
  const load = new SteadyLoad(sidecar.url);
  load.start('resnet50', { kind: 'grpc', model: 'resnet50' }, 2, 0);
  load.start('bert', { kind: 'rest', model: 'bert', path: '/v1/models/bert:predict' }, 2, 0);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && [...load.outcomes.values()].some((list) => list.length < count)) await new Promise((resolve) => setTimeout(resolve, 10));
  await load.stop();
  for (const model of ['resnet50', 'bert']) expect(load.failures(model)).toEqual([]);
}

describeWithTool('infermesh inspect on a real Envoy admin API', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describe(`Envoy ${binary.version}`, () => {
      let sidecar: Sidecar;
      const counted = new Map<string, number>();

      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `inspect-${binary.version}.shop`);
        for (const pod of mesh.pods.values()) counted.set(pod.pod, pod.requests);
        await traffic(sidecar, 30);
        for (const pod of mesh.pods.values()) counted.set(pod.pod, pod.requests - (counted.get(pod.pod) ?? 0));
      }, 30_000);

      afterAll(async () => {
        await sidecar?.stop(failures.failed);
      });

      it('shows per model and backend the requests the pods served, with endpoints and config versions', async () => {
        const { code, out } = await inspect('--admin', sidecar.envoy.adminUrl, '--server', `127.0.0.1:${sidecar.controlPlane.adminPort}`, '-o', 'json');
        expect(code).toBe(0);
        const view = JSON.parse(out) as InspectView;
        expect(view.sidecar).toMatchObject({ nodeId: sidecar.envoy.nodeId, envoyVersion: binary.version, state: 'LIVE', onDemand: true });
        // Delta ADS: Envoy dumps LDS with the last response's system_version_info, the control plane's snapshot
        // version (a digest of what it served then, src/snapshot/assemble.ts); on-demand clusters and scoped
        // tables carry only their own resource versions (contentVersion, src/snapshot/encoded-resource.ts).
        // The sidecar holds what it called: two tables, three clusters.
        const { cds, eds, lds, rds } = view.configVersions;
        expect(lds.version).toMatch(/^[0-9a-f]{16}$/);
        expect(view.controlPlane?.snapshotVersion).toMatch(/^[0-9a-f]{16}$/);
        for (const [type, version] of Object.entries({ cds, rds })) expect(version.version, type).toMatch(/^[0-9a-f]{16}$/);
        expect([cds.resources, eds.resources, lds.resources, rds.resources]).toEqual([3, 3, 1, 2]);
        const rows = view.models.flatMap((m) => m.backends.map((b) => ({ model: m.model, backend: b.backend, requests: b.requests, endpoints: b.endpoints, responses5xx: b.responses5xx, state: m.controlPlane?.states })));
        expect(rows).toEqual([
          { model: 'bert', backend: 'main', requests: counted.get('bert-0'), endpoints: expect.objectContaining({ total: 1, healthy: 1, ejected: 0 }), responses5xx: 0, state: ['serving'] },
          { model: 'resnet50', backend: 'canary', requests: counted.get('resnet50-v2-0'), endpoints: expect.objectContaining({ total: 1, healthy: 1, ejected: 0 }), responses5xx: 0, state: ['serving'] },
          { model: 'resnet50', backend: 'stable', requests: counted.get('resnet50-v1-0'), endpoints: expect.objectContaining({ total: 1, healthy: 1, ejected: 0 }), responses5xx: 0, state: ['serving'] },
        ]);
        expect(counted.get('resnet50-v1-0')! + counted.get('resnet50-v2-0')!).toBeGreaterThanOrEqual(30);
        expect(view.issues).toEqual([]);
      });

      it('prints the same numbers in the table', async () => {
        const { code, out } = await inspect('--admin', sidecar.envoy.adminUrl);
        expect(code).toBe(0);
        expect(out).toContain(`Envoy ${binary.version}`);
        const row = (model: string, backend: string) => out.split('\n').find((line) => line.startsWith(`${model} `) && line.includes(` ${backend} `))?.trim().split(/\s+/);
        // MODEL BACKEND ENDPOINTS EJECTED HC-FAIL REQUESTS ...
        expect(row('bert', 'main')?.slice(2, 6)).toEqual(['1/1', '0', '0', String(counted.get('bert-0'))]);
        expect(row('resnet50', 'stable')?.[5]).toBe(String(counted.get('resnet50-v1-0')));
        expect(row('resnet50', 'canary')?.[5]).toBe(String(counted.get('resnet50-v2-0')));
      });
    });
  }
});
