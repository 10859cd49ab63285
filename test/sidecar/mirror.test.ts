/**
 * Policy `mirror` through a real Envoy sidecar (delta ADS) on every pinned Envoy: stable takes all the
 * weight, canary none, and half of the unpinned calls are copied to canary. The caller must always get
 * stable's answer, and the canary pod must see about half as many calls (the fakes count calls per pod).
 * Canary is never a split target here, and on-demand CDS fetches only the cluster a route sends a request
 * to, never a mirror target (Envoy skips a copy to a cluster it does not hold): no copies until one call
 * pinned to canary's version has loaded its cluster (README "Mirroring"), then about half.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTritonClient, tritonInfer, type TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { trackFailures, type Sidecar } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { describeSidecars, tallyPods } from './routing-support.ts';

const policy = (model: string, protocol: 'http' | 'grpc') => `
model: ${model}
server: triton
protocol: ${protocol}
backends:
  - { name: stable, service: ${model}-stable, port: ${protocol}, version: "1", weight: 100 }
  - { name: canary, service: ${model}-canary, port: ${protocol}, version: "2", weight: 0 }
mirror: { backend: canary, percent: 50 }
`;

const N = 200;
// 50% of 200: 100 expected, binomial standard deviation about 7; 4 deviations either side.
const LOW = 72;
const HIGH = 128;

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start(
    [
      { kind: 'triton', host: '127.0.0.140', pod: 'mrest-stable-a', service: 'mrest-stable', models: ['mrest'], version: '1' },
      { kind: 'triton', host: '127.0.0.141', pod: 'mrest-canary-a', service: 'mrest-canary', models: ['mrest'], version: '2' },
      { kind: 'triton', host: '127.0.0.142', pod: 'mgrpc-stable-a', service: 'mgrpc-stable', models: ['mgrpc'], version: '1' },
      { kind: 'triton', host: '127.0.0.143', pod: 'mgrpc-canary-a', service: 'mgrpc-canary', models: ['mgrpc'], version: '2' },
    ],
    { 'mrest-policy': policy('mrest', 'http'), 'mgrpc-policy': policy('mgrpc', 'grpc') },
  );
});

afterAll(async () => {
  await mesh?.close();
});

async function restPod(sidecar: Sidecar, version?: string): Promise<string> {
  const response = await fetch(`${sidecar.url}/v2/models/mrest/infer`, {
    method: 'POST',
    headers: { 'x-model': 'mrest', ...(version === undefined ? {} : { 'x-model-version': version }) },
    body: JSON.stringify({ inputs: [] }),
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await response.json()) as { served_by?: unknown };
  if (response.status !== 200 || typeof body.served_by !== 'string') throw new Error(`${response.status} ${JSON.stringify(body)}`);
  return body.served_by;
}

/** Mirrored copies are sent alongside and finish on their own: wait until the canary's count stops moving. */
async function settledCount(read: () => number): Promise<number> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const now = read();
    if (now === last) return now;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return read();
}

describeWithTool('policy mirror through an Envoy sidecar', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describeSidecars(binary, () => mesh, failures, (sidecar) => {
      let triton: TritonClient;
      beforeAll(() => {
        triton = createTritonClient(sidecar().authority);
      });
      afterAll(() => {
        triton?.close();
      });

      it(`REST: no copies before a pin loads canary's cluster; then of ${N} calls the caller always gets stable, and canary (weight 0) sees about half as copies`, async () => {
        const stable = mesh.pod('mrest-stable-a');
        const canary = mesh.pod('mrest-canary-a');
        canary.resetCounters();
        await eventually(() => restPod(sidecar()));
        await tallyPods(20, 5, () => restPod(sidecar()));
        expect(await settledCount(() => canary.requestsFor('mrest'))).toBe(0);
        expect(await restPod(sidecar(), '2')).toBe('mrest-canary-a');
        stable.resetCounters();
        canary.resetCounters();
        const { byPod, errors } = await tallyPods(N, 10, () => restPod(sidecar()));
        expect(errors).toEqual([]);
        expect([...byPod]).toEqual([['mrest-stable-a', N]]);
        expect(stable.requestsFor('mrest')).toBe(N);
        const mirrored = await settledCount(() => canary.requestsFor('mrest'));
        expect(mirrored).toBeGreaterThan(LOW);
        expect(mirrored).toBeLessThan(HIGH);
      });

      it(`gRPC: no copies before a pin loads canary's cluster; then of ${N} calls the caller always gets stable, and canary sees about half as copies`, async () => {
        const stable = mesh.pod('mgrpc-stable-a');
        const canary = mesh.pod('mgrpc-canary-a');
        const call = async () => (await tritonInfer(triton, 'mgrpc', { metadata: { 'x-model': 'mgrpc' }, timeoutMs: 5_000 })).pod;
        canary.resetCounters();
        await eventually(call);
        await tallyPods(20, 5, call);
        expect(await settledCount(() => canary.requestsFor('mgrpc'))).toBe(0);
        const pinned = await tritonInfer(triton, 'mgrpc', { metadata: { 'x-model': 'mgrpc', 'x-model-version': '2' }, timeoutMs: 5_000 });
        expect(pinned.pod).toBe('mgrpc-canary-a');
        stable.resetCounters();
        canary.resetCounters();
        const { byPod, errors } = await tallyPods(N, 10, call);
        expect(errors).toEqual([]);
        expect([...byPod]).toEqual([['mgrpc-stable-a', N]]);
        const mirrored = await settledCount(() => canary.requestsFor('mgrpc'));
        expect(mirrored).toBeGreaterThan(LOW);
        expect(mirrored).toBeLessThan(HIGH);
      });

      it('a version pin is not mirrored', async () => {
        const canary = mesh.pod('mrest-canary-a');
        // Its cluster loaded (so copies could go), then only calls pinned to stable's version.
        expect(await restPod(sidecar(), '2')).toBe('mrest-canary-a');
        await settledCount(() => canary.requestsFor('mrest'));
        canary.resetCounters();
        for (let i = 0; i < 20; i++) {
          const response = await fetch(`${sidecar().url}/v2/models/mrest/infer`, {
            method: 'POST',
            headers: { 'x-model': 'mrest', 'x-model-version': '1' },
            body: '{"inputs":[]}',
            signal: AbortSignal.timeout(5_000),
          });
          expect(response.status).toBe(200);
          await response.text();
        }
        expect(await settledCount(() => canary.requestsFor('mrest'))).toBe(0);
      });
    });
  }
});
