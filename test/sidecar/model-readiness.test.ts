/**
 * Issue 14 acceptance through a real Envoy sidecar (every pinned version, delta ADS as the project's
 * bootstrap has it): traffic only to pods that have the model loaded, as the sidecar's own control-plane
 * replica learns it from Triton's repository index every 300 ms. A plain @grpc/grpc-js client calls
 * ModelInfer on the sidecar port with x-model metadata. The same scenarios as the proxyless twin,
 * test/e2e/model-readiness.test.ts; pods on 127.0.0.240-249.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe } from 'vitest';
import { createTfServingClient, createTritonClient, type TfServingClient, type TritonClient } from '../../demo/fake-model-server.ts';
import { freePort } from '../support/envoy-process.ts';
import { Mesh } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';
import { readinessScenarios } from '../e2e/model-readiness-scenarios.ts';
import { callTfServing, callTriton, inProcessBatch, readinessPods, readinessPolicies, PROBE_INTERVAL_MS, type DataPlane } from '../e2e/model-readiness-support.ts';

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start(readinessPods('127.0.0.240'), readinessPolicies(await freePort('127.0.0.245')), undefined, { probeIntervalMs: PROBE_INTERVAL_MS });
});

afterAll(async () => {
  await mesh?.close();
});

describeWithTool('Envoy sidecars', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describe(`Envoy ${binary.version} (DELTA_GRPC)`, () => {
      let sidecar: Sidecar | undefined;
      let client: TritonClient | undefined;
      let tfClient: TfServingClient | undefined;
      beforeAll(async () => {
        sidecar = await Sidecar.start(mesh, binary, `readiness-${process.pid}-${binary.version}`);
        client = createTritonClient(sidecar.authority, grpc.credentials.createInsecure());
        tfClient = createTfServingClient(sidecar.authority, grpc.credentials.createInsecure());
      });
      afterAll(async () => {
        client?.close();
        tfClient?.close();
        await sidecar?.stop(failures.failed);
      });
      const plane: DataPlane = {
        name: `Envoy ${binary.version}`,
        batch: (model, calls, headers, options) => {
          if (!client || !tfClient) throw new Error(`no sidecar for Envoy ${binary.version} (beforeAll failed)`);
          const [triton, tf] = [client, tfClient];
          if (options?.kind === 'tfserving') return inProcessBatch((m, h, v) => callTfServing(tf, m, h, v), model, calls, headers, options);
          return inProcessBatch((m, h, v) => callTriton(triton, m, h, v), model, calls, headers, options);
        },
      };
      readinessScenarios(() => mesh, plane, () => {
        if (!sidecar) throw new Error(`no sidecar for Envoy ${binary.version}`);
        return sidecar.controlPlane.adminPort;
      });
    });
  }
});
