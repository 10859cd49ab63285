import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tfServingPredict, tritonInfer, type InferenceIdentity } from '../../demo/fake-model-server.ts';
import { Mesh } from '../support/mesh.ts';
import { tfServingOverXds, tritonOverXds } from '../support/xds-client.ts';
import type { ClientRun, Tally } from './proxyless-clients.ts';
import { INTEROP_POLICIES, interopPods, perModelTargetScenarios, proxylessScenarios } from './proxyless-scenarios.ts';

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

/**
 * grpc-js (1.14) sends the target path as :authority as it is; gRFC A47, C-core since 1.57 and grpc-go
 * percent-encode its '/' (C-core 1.51 sent the last segment). An HTTP/2 server that validates :authority
 * (Node's nghttp2, which the pods here run; Envoy 1.40 too) refuses a stream for "infermesh/resnet50",
 * so a grpc-js client of a per-model target sets the encoded authority itself (README, proxyless gRPC).
 */
function percentEncodedAuthority(target: string): grpc.ChannelOptions {
  return { 'grpc.default_authority': encodeURIComponent(target) };
}

/** As the other clients: a fresh channel per run, calls one at a time with a 10 s deadline each. */
const call: ClientRun = async (kind, model, calls, headers, { gapMs = 0, target = 'infermesh' } = {}) => {
  runs += 1;
  const options = { ...mesh.channelOptions(`grpc-js-${process.pid}-${runs}`), ...percentEncodedAuthority(target) };
  const tally: Tally = { pods: {}, errors: {}, messages: {}, outcomes: [], times: [] };
  const triton = kind === 'triton' ? tritonOverXds(options, `xds:///${target}`) : undefined;
  const tfServing = kind === 'tfserving' ? tfServingOverXds(options, `xds:///${target}`) : undefined;
  const once = (): Promise<InferenceIdentity> => {
    const callOptions = { metadata: headers, timeoutMs: 10_000 };
    if (triton) return tritonInfer(triton, model, callOptions);
    if (tfServing) return tfServingPredict(tfServing, model, callOptions);
    throw new Error(`no client for ${kind}`);
  };
  try {
    for (let i = 0; i < calls; i += 1) {
      if (i > 0 && gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs));
      tally.times.push(Date.now());
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

it('needs the encoded authority on a per-model target: the pods refuse its default one', async () => {
  // If this starts to pass, grpc-js encodes the authority itself: drop percentEncodedAuthority and README's note.
  const client = tritonOverXds(mesh.channelOptions(`grpc-js-${process.pid}-raw-authority`), 'xds:///infermesh/resnet50');
  try {
    await expect(tritonInfer(client, 'resnet50', { metadata: {}, timeoutMs: 10_000 })).rejects.toMatchObject({ code: grpc.status.INTERNAL, details: expect.stringContaining('RST_STREAM with code 1') });
  } finally {
    client.close();
  }
});

proxylessScenarios(() => mesh, call);
perModelTargetScenarios(() => mesh, call);
