/**
 * The routing contract (README "Routing semantics") through a real Envoy sidecar, for gRPC callers: a plain
 * @grpc/grpc-js client dials the sidecar port over h2c and sends x-model / x-model-version metadata, on every
 * pinned Envoy (delta ADS, as every sidecar). Error answers are asserted exactly: gRPC status code and message. The
 * fake pods check the model and version they are asked for, so a call routed to the wrong backend fails.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createTfServingClient,
  createTritonClient,
  tfServingPredict,
  tritonInfer,
  tritonServerReady,
  type TfServingClient,
  type TritonClient,
} from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { describeSidecars, servedBy, tallyPods } from './routing-support.ts';

const DENSENET_POLICY = `
model: densenet
aliases: [dense]
server: triton
protocol: grpc
backends:
  - { name: stable, service: densenet-v1, port: grpc, version: "1", weight: 80 }
  - { name: canary, service: densenet-v2, port: grpc, version: "2", weight: 20 }
`;

const MNIST_POLICY = `
model: mnist
aliases: [digits]
server: tfserving
protocol: grpc
backends:
  - { name: v1, service: mnist-v1, port: grpc, version: "1", weight: 50 }
  - { name: v2, service: mnist-v2, port: grpc, version: "2", weight: 50 }
`;

type Metadata = Record<string, string>;

/** The gRPC status of a call that must fail. */
async function failure(call: Promise<unknown>): Promise<{ code: grpc.status; details: string }> {
  try {
    await call;
  } catch (error) {
    const { code, details } = error as grpc.ServiceError;
    return { code, details };
  }
  throw new Error('the call succeeded');
}

function notFound(model: string, version?: string): { code: grpc.status; details: string } {
  const details = version === undefined ? `no model named "${model}" is served here` : `no model named "${model}" with version "${version}" is served here`;
  return { code: grpc.status.NOT_FOUND, details };
}

const HEADER_REQUIRED = {
  code: grpc.status.INVALID_ARGUMENT,
  details: 'the x-model header is required: set it to the model to call (and optionally x-model-version to pin a version)',
};

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start(
    [
      { kind: 'triton', host: '127.0.0.50', pod: 'densenet-v1-a', service: 'densenet-v1', models: ['densenet'], version: '1' },
      { kind: 'triton', host: '127.0.0.51', pod: 'densenet-v1-b', service: 'densenet-v1', models: ['densenet'], version: '1' },
      { kind: 'triton', host: '127.0.0.52', pod: 'densenet-v2-a', service: 'densenet-v2', models: ['densenet'], version: '2' },
      { kind: 'tfserving', host: '127.0.0.53', pod: 'mnist-v1-a', service: 'mnist-v1', models: ['mnist'], version: '1' },
      { kind: 'tfserving', host: '127.0.0.54', pod: 'mnist-v2-a', service: 'mnist-v2', models: ['mnist'], version: '2' },
    ],
    { 'densenet-policy': DENSENET_POLICY, 'mnist-policy': MNIST_POLICY },
  );
});

afterAll(async () => {
  await mesh?.close();
});

describeWithTool('routing contract through an Envoy sidecar, gRPC over h2c', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describeSidecars(binary, () => mesh, failures, (sidecar) => {
      let triton: TritonClient;
      let tfServing: TfServingClient;
      beforeAll(() => {
        triton = createTritonClient(sidecar().authority);
        tfServing = createTfServingClient(sidecar().authority);
      });
      afterAll(() => {
        triton?.close();
        tfServing?.close();
      });

      const infer = async (metadata: Metadata) => (await tritonInfer(triton, 'densenet', { metadata, timeoutMs: 5_000 })).pod;
      const predict = async (metadata: Metadata) => (await tfServingPredict(tfServing, 'mnist', { metadata, timeoutMs: 5_000 })).pod;
      const pods = async (count: number, call: () => Promise<string>) => {
        const { byPod, errors } = await tallyPods(count, 20, call);
        expect(errors).toEqual([]);
        return byPod;
      };

      it('x-model: M splits 1,000 calls across M\'s backends (Triton and TF Serving)', async () => {
        await eventually(() => infer({ 'x-model': 'densenet' }));
        const byPod = await pods(1000, () => infer({ 'x-model': 'densenet' }));
        const canary = servedBy(byPod, 'densenet-v2');
        expect(servedBy(byPod, 'densenet-v1') + canary).toBe(1000);
        // 80/20: 3.5 standard deviations of binomial(1000, 0.2) is about 44 calls.
        expect(canary).toBeGreaterThan(200 - 45);
        expect(canary).toBeLessThan(200 + 45);
        // Stable's share is spread over both of its pods (about 400 each).
        expect(byPod.get('densenet-v1-a')).toBeGreaterThan(300);
        expect(byPod.get('densenet-v1-b')).toBeGreaterThan(300);
        const mnist = await pods(100, () => predict({ 'x-model': 'mnist' }));
        expect(mnist.get('mnist-v1-a')).toBeGreaterThan(20);
        expect(mnist.get('mnist-v2-a')).toBeGreaterThan(20);
      });

      it('x-model: M with x-model-version: V reaches only V\'s backend', async () => {
        expect([...(await pods(30, () => infer({ 'x-model': 'densenet', 'x-model-version': '2' }))).keys()]).toEqual(['densenet-v2-a']);
        expect(servedBy(await pods(30, () => infer({ 'x-model': 'densenet', 'x-model-version': '1' })), 'densenet-v1')).toBe(30);
        expect([...(await pods(30, () => predict({ 'x-model': 'mnist', 'x-model-version': '1' }))).keys()]).toEqual(['mnist-v1-a']);
      });

      it('an alias in x-model routes like the model\'s own name', async () => {
        expect([...(await pods(20, () => infer({ 'x-model': 'dense', 'x-model-version': '2' }))).keys()]).toEqual(['densenet-v2-a']);
        expect([...(await pods(20, () => predict({ 'x-model': 'digits', 'x-model-version': '2' }))).keys()]).toEqual(['mnist-v2-a']);
        expect(servedBy(await pods(60, () => infer({ 'x-model': 'dense' })), 'densenet-v')).toBe(60);
      });

      it('x-model: M with an unknown x-model-version answers NOT_FOUND naming model and version', async () => {
        expect(await failure(infer({ 'x-model': 'densenet', 'x-model-version': '7' }))).toEqual(notFound('densenet', '7'));
        expect(await failure(predict({ 'x-model': 'digits', 'x-model-version': '3' }))).toEqual(notFound('digits', '3'));
      });

      it('an unknown x-model answers NOT_FOUND naming the model', async () => {
        expect(await failure(infer({ 'x-model': 'no-such-model' }))).toEqual(notFound('no-such-model'));
        expect(await failure(predict({ 'x-model': 'no-such-model', 'x-model-version': '1' }))).toEqual(notFound('no-such-model', '1'));
      });

      it('no x-model answers INVALID_ARGUMENT saying the header is required', async () => {
        expect(await failure(infer({}))).toEqual(HEADER_REQUIRED);
        expect(await failure(predict({ 'x-model-version': '1' }))).toEqual(HEADER_REQUIRED);
        expect(await failure(tritonServerReady(triton, { timeoutMs: 5_000 }))).toEqual(HEADER_REQUIRED);
      });
    });
  }

  it('never sent a call to a pod that does not serve its model and version', () => {
    for (const pod of mesh.pods.values()) expect({ pod: pod.pod, notFound: pod.notFound }).toEqual({ pod: pod.pod, notFound: 0 });
  });
});
