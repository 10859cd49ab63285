/**
 * Cold-start holds with two control-plane replicas, through a real Envoy sidecar on every pinned version:
 * both replicas are hosts of the sidecar's xDS cluster, so its ADS stream is on one of them while its
 * ext_proc streams (one per held request) are spread over both. A replica that does not serve the sidecar's
 * ADS stream cannot see its ACKs and lets a held request go once the model has been ready there for its
 * grace (2 s); the replica with the ADS stream lets it go on the ACK. Every held request must succeed once the
 * pod loads the model, whichever replica held it. Probes every 1 s. Pod on 127.0.6.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.ts';
import { eventually } from '../support/eventually.ts';
import { freePort } from '../support/envoy-process.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { restInfer } from './resilience-calls.ts';

const PODS: PodSpec[] = [{ kind: 'triton', host: '127.0.6.1', pod: 'csr-a', service: 'csr', models: [], version: '1', onlyListedModels: true }];
const HELD = 20;

const lookup = envoyBinaries();
const versions = lookup.found ? lookup.value.map((binary) => binary.version) : [];
/** Each Envoy version has its own model, so one version's loads do not make another's ready. */
const modelFor = (version: string) => `csr-${version.replaceAll('.', '-')}`;
const policy = (model: string) => `model: ${model}
server: triton
protocol: http
backends: [{ name: main, service: csr, port: http }]
retries: { attempts: 0 }
coldStart: { holdFor: 30s }`;

async function held(replica: RunningServer, model: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${replica.adminPort}/metrics`)).text();
  const match = new RegExp(`^infermesh_cold_start_held_requests\\{model="${model}"\\} (\\d+)`, 'm').exec(text);
  return match ? Number(match[1]) : 0;
}

const measured: string[] = [];

describeWithTool('cold-start holds across two control-plane replicas', lookup, (binaries) => {
  const failures = trackFailures();
  let mesh: Mesh;

  beforeAll(async () => {
    mesh = await Mesh.start(PODS, Object.fromEntries(versions.map((version) => [modelFor(version), policy(modelFor(version))])), undefined, { probeIntervalMs: 1_000 });
  });
  afterAll(async () => {
    await mesh?.close();
    if (measured.length > 0) console.log(`cold start across replicas, measured:\n${measured.join('\n')}`);
  });

  binaries.forEach((binary) => {
    describe(`Envoy ${binary.version}`, () => {
      const model = modelFor(binary.version);
      let sidecar: Sidecar;
      let replicaB: RunningServer | undefined;

      beforeAll(async () => {
        const portB = await freePort();
        // Replica A is the sidecar's own; B serves the same folder with the same settings on portB.
        sidecar = await Sidecar.start(mesh, binary, `cold-start-replicas-${process.pid}-${binary.version}`, { moreXdsPorts: [portB] }, async (address, settings) => {
          const replicaA = await mesh.startControlPlane(address, settings);
          await replicaB?.close(); // a start again on another sidecar port (see Sidecar.start) makes B anew
          replicaB = await mesh.startControlPlane(`127.0.0.1:${portB}`, settings);
          return replicaA;
        });
      });
      afterAll(async () => {
        await sidecar?.stop(failures.failed);
        await replicaB?.close();
      });

      it(`${HELD} held requests spread over both replicas all succeed once the pod loads the model`, async () => {
        const calls = Array.from({ length: HELD }, () => restInfer(sidecar, `/v2/models/${model}/infer`, 40_000));
        const replicas = [sidecar.controlPlane, replicaB!];
        let counts: number[] = [];
        await eventually(async () => {
          counts = await Promise.all(replicas.map((replica) => held(replica, model)));
          expect(counts[0]! + counts[1]!).toBe(HELD);
        }, { timeoutMs: 15_000 });
        // Both replicas hold some: the one without the sidecar's ADS stream is exercised too.
        expect(counts.every((count) => count > 0), `held per replica: ${counts.join(', ')}`).toBe(true);
        const readyAt = performance.now();
        await mesh.pod('csr-a').load(model);
        const answers = await Promise.all(calls);
        expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
        measured.push(`Envoy ${binary.version}: held ${counts.join(' + ')} (A + B), all ${HELD} answered within ${Math.round(performance.now() - readyAt)} ms of the load`);
      });
    });
  });
});
