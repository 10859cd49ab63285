import { afterAll, beforeAll, expect, it } from 'vitest';
import { Mesh } from '../support/mesh.ts';
import { describeWithTool, grpcGoClient } from '../support/tools.ts';
import { processClient, writeBootstrap } from './proxyless-clients.ts';
import { INTEROP_POLICIES, interopPods, perModelTargetScenarios, proxylessScenarios } from './proxyless-scenarios.ts';

/**
 * The same routing through grpc-go's xDS client, a third independent implementation: test/interop/go, built
 * by scripts/grpc-clients.sh with google.golang.org/grpc pinned in its go.mod. Pods on 127.0.0.130-136.
 */
const lookup = grpcGoClient();
const title = lookup.found ? `grpc-go ${lookup.value.version} as the data plane` : 'grpc-go as the data plane';

let mesh: Mesh;
let bootstrap = '';

beforeAll(async () => {
  mesh = await Mesh.start(interopPods('127.0.0.130'), INTEROP_POLICIES);
  bootstrap = await writeBootstrap(mesh, 'grpc-go');
});

afterAll(async () => {
  await mesh?.close();
});

describeWithTool(title, lookup, ({ path }) => {
  const call = processClient(path, [], () => bootstrap);

  it('answers a first call', async () => {
    expect(await call('triton', 'resnet50', 1, { 'x-model': 'resnet50' })).toMatchObject({ errors: {} });
  });

  proxylessScenarios(() => mesh, call);
  perModelTargetScenarios(() => mesh, call);
});
