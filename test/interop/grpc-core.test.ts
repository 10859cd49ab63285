import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Mesh } from '../support/mesh.ts';
import { debianGrpcio, describeWithTool, pypiGrpcio, type Lookup, type PythonGrpc } from '../support/tools.ts';
import { processClient, writeBootstrap } from './proxyless-clients.ts';
import { INTEROP_POLICIES, interopPods, perModelTargetScenarios, proxylessScenarios } from './proxyless-scenarios.ts';

/**
 * The same routing through gRPC C-core, another xDS implementation, from Python: Debian 12's python3-grpcio
 * (C-core 1.51, the oldest client DESIGN.md promises to support) and the current grpcio from PyPI
 * (scripts/grpc-clients.sh). One body, run for each interpreter. Pods on 127.0.0.120-126.
 */
const CLIENT = path.join(import.meta.dirname, 'grpc_python_client.py');
const interpreters: { name: string; lookup: Lookup<PythonGrpc> }[] = [
  { name: 'Debian python3-grpcio', lookup: debianGrpcio() },
  { name: 'grpcio from PyPI', lookup: pypiGrpcio() },
];

let mesh: Mesh;

beforeAll(async () => {
  mesh = await Mesh.start(interopPods('127.0.0.120'), INTEROP_POLICIES);
});

afterAll(async () => {
  await mesh?.close();
});

for (const { name, lookup } of interpreters) {
  const title = lookup.found ? `gRPC C-core ${lookup.value.version} (${name}) as the data plane` : `gRPC C-core (${name}) as the data plane`;
  describeWithTool(title, lookup, ({ python, version }) => {
    let bootstrap = '';
    beforeAll(async () => {
      bootstrap = await writeBootstrap(mesh, `grpc-python-${version}`);
    });
    const call = processClient(python, [CLIENT], () => bootstrap);

    it(`runs grpcio ${version}`, async () => {
      const tally = await call('triton', 'resnet50', 1, { 'x-model': 'resnet50' });
      expect(tally).toMatchObject({ errors: {}, grpcio: version });
    });

    // C-core ends calls 1 to 2 s before a route (or service-config) timeout on this machine: see README.
    proxylessScenarios(() => mesh, call, { timeoutEarlyByUpToMs: 2500 });
    perModelTargetScenarios(() => mesh, call);
  });
}
