import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tfServingPredict, tritonInfer, type InferenceIdentity } from '../../demo/fake-model-server.ts';
import { Mesh } from '../support/mesh.ts';
import { tfServingOverXds, tritonOverXds } from '../support/xds-client.ts';
import { INTEROP_POLICIES, interopPods, proxylessScenarios, type ClientRun, type Tally } from './proxyless-scenarios.ts';

/**
 * The same proxyless scenarios through @grpc/grpc-js-xds (the package-lock's version), in this process, so
 * every client README names runs the one body. Pods on 127.0.0.170-176.
 */
let mesh: Mesh;
let runs = 0;

beforeAll(async () => {
  mesh = await Mesh.start(interopPods('127.0.0.170'), INTEROP_POLICIES);
});

afterAll(async () => {
  await mesh?.close();
});

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && 'code' in error && typeof error.code === 'number';
}

/** As the other clients: a fresh channel per run, calls one at a time with a 10 s deadline each. */
const call: ClientRun = async (kind, model, calls, headers, gapMs = 0) => {
  runs += 1;
  const options = mesh.channelOptions(`grpc-js-${process.pid}-${runs}`);
  const tally: Tally = { pods: {}, errors: {}, messages: {}, outcomes: [] };
  const triton = kind === 'triton' ? tritonOverXds(options) : undefined;
  const tfServing = kind === 'tfserving' ? tfServingOverXds(options) : undefined;
  const once = (): Promise<InferenceIdentity> => {
    const callOptions = { metadata: headers, timeoutMs: 10_000 };
    if (triton) return tritonInfer(triton, model, callOptions);
    if (tfServing) return tfServingPredict(tfServing, model, callOptions);
    throw new Error(`no client for ${kind}`);
  };
  try {
    for (let i = 0; i < calls; i += 1) {
      if (i > 0 && gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      try {
        const { pod } = await once();
        tally.pods[pod] = (tally.pods[pod] ?? 0) + 1;
        tally.outcomes.push(pod);
      } catch (error) {
        if (!isServiceError(error)) throw error;
        const name = grpc.status[error.code];
        tally.errors[name] = (tally.errors[name] ?? 0) + 1;
        tally.messages[name] = error.details;
        tally.outcomes.push(name);
      }
    }
  } finally {
    triton?.close();
    tfServing?.close();
  }
  return tally;
};

it('answers a first call', async () => {
  expect(await call('triton', 'resnet50', 1, { 'x-model': 'resnet50' })).toMatchObject({ errors: {} });
});

proxylessScenarios(() => mesh, call);
