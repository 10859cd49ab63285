/**
 * Issue 14 acceptance, proxyless: traffic only to pods that have the model loaded, as the control plane's
 * prober learns it from Triton's repository index, through @grpc/grpc-js-xds (in this process) and gRPC C-core
 * (grpcio from PyPI, as a process). One Mesh, probed every 300 ms; pods on 127.0.0.230-239. The sidecar
 * twin is test/sidecar/model-readiness.test.ts.
 *
 * Unload, and what retries can cover: real Triton answers inference on a model it unloaded with NOT_FOUND
 * "has no available versions" when the request names no version, and UNAVAILABLE "version V is not at
 * ready state" when it names one (demo/fake-triton.ts). gRPC clients retry only cancelled,
 * deadline-exceeded, internal, resource-exhausted and unavailable (gRFC A44), so calls that name their
 * version are retried on another pod and none fails; calls naming none may fail NOT_FOUND in the gap
 * between the unload and the next probe, and never after it.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe } from 'vitest';
import type { TfServingClient, TritonClient } from '../../demo/fake-model-server.ts';
import { writeBootstrap } from '../interop/proxyless-clients.ts';
import { freePort } from '../support/envoy-process.ts';
import { Mesh } from '../support/mesh.ts';
import { describeWithTool, pypiGrpcio } from '../support/tools.ts';
import { tfServingOverXds, tritonOverXds } from '../support/xds-client.ts';
import { readinessScenarios } from './model-readiness-scenarios.ts';
import { callTfServing, callTriton, inProcessBatch, readinessPods, readinessPolicies, PROBE_INTERVAL_MS, type DataPlane, type Tally } from './model-readiness-support.ts';

const run = promisify(execFile);
let mesh: Mesh;

beforeAll(async () => {
  mesh = await Mesh.start(readinessPods('127.0.0.230'), readinessPolicies(await freePort('127.0.0.235')), undefined, { probeIntervalMs: PROBE_INTERVAL_MS });
});

afterAll(async () => {
  await mesh?.close();
});

describe('@grpc/grpc-js-xds as the data plane', () => {
  let client: TritonClient | undefined;
  let tfClient: TfServingClient | undefined;
  const plane: DataPlane = {
    name: 'grpc-js-xds',
    batch: (model, calls, headers, options) => {
      if (options?.kind === 'tfserving') {
        const open = (tfClient ??= tfServingOverXds(mesh.channelOptions('readiness-grpc-js-tf')));
        return inProcessBatch((m, h, v) => callTfServing(open, m, h, v), model, calls, headers, options);
      }
      const open = (client ??= tritonOverXds(mesh.channelOptions('readiness-grpc-js')));
      return inProcessBatch((m, h, v) => callTriton(open, m, h, v), model, calls, headers, options);
    },
  };
  afterAll(() => {
    client?.close();
    tfClient?.close();
  });
  readinessScenarios(() => mesh, plane);
});

const grpcio = pypiGrpcio();
const CLIENT = path.join(import.meta.dirname, '..', 'interop', 'grpc_python_client.py');
describeWithTool(grpcio.found ? `gRPC C-core ${grpcio.value.version} (grpcio from PyPI) as the data plane` : 'gRPC C-core (grpcio from PyPI) as the data plane', grpcio, ({ python, version }) => {
  let bootstrap = '';
  beforeAll(async () => {
    bootstrap = await writeBootstrap(mesh, `readiness-grpc-python-${version}`);
  });
  // Each batch is one process dialling anew (grpc_python_client.py), as test/interop runs it.
  const plane: DataPlane = {
    name: `gRPC C-core ${version}`,
    batch: async (model, calls, headers, { gapMs = 0, version: modelVersion, kind = 'triton' } = {}) => {
      const argv = [CLIENT, 'infermesh', kind, model, String(calls), ...Object.entries(headers).map(([k, v]) => `${k}=${v}`)];
      const env = { ...process.env, GRPC_XDS_BOOTSTRAP: bootstrap, GRPC_VERBOSITY: 'ERROR', INFERMESH_CALL_GAP_MS: String(gapMs), INFERMESH_MODEL_VERSION: modelVersion ?? '' };
      const { stdout } = await run(python, argv, { env, timeout: 60_000 });
      return JSON.parse(stdout) as Tally;
    },
  };
  readinessScenarios(() => mesh, plane);
});
