/**
 * npm run demo: the example folder, served for real on this machine. Starts a fake Triton or TF Serving pod
 * for every ready endpoint the example's EndpointSlices list (each on its own 127.0.0.x address), the control
 * plane on the same folder, and a proxyless @grpc/grpc-js-xds client that sends requests with x-model. Prints
 * who served what, and exits 0 when every call landed where the policies say.
 */
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import path from 'node:path';
import {
  createTfServingClient,
  createTritonClient,
  startFakeModelServer,
  tfServingPredict,
  tritonInfer,
  type FakeModelServer,
  type InferenceIdentity,
} from '../demo/fake-model-server.ts';
import { startServer } from '../src/cli/serve.ts';
import { createLogger } from '../src/logging/logger.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { isPolicyConfigMap, parsePolicyConfigMap } from '../src/policy/index.ts';
import { readFolder } from '../src/sources/folder.ts';

const exampleDir = path.resolve(import.meta.dirname, '../examples/basic');

/** One fake pod per ready endpoint of every backend Service the example's policies name. */
async function startPods(): Promise<FakeModelServer[]> {
  const world = await readFolder(exampleDir);
  const pods: FakeModelServer[] = [];
  for (const policy of world.configMaps.filter(isPolicyConfigMap).flatMap((cm) => parsePolicyConfigMap(cm).policies)) {
    for (const backend of policy.backends) {
      const slices = world.endpointSlices.filter((s) => s.namespace === policy.source.namespace && s.serviceName === backend.service);
      for (const slice of slices) {
        const port = typeof backend.port === 'number' ? backend.port : slice.ports.find((p) => p.name === backend.port)?.port;
        for (const endpoint of slice.endpoints.filter((e) => e.ready)) {
          for (const host of endpoint.addresses) {
            pods.push(await startFakeModelServer({
              kind: policy.server === 'tfserving' ? 'tfserving' : 'triton',
              host,
              grpcPort: port ?? 0,
              pod: endpoint.podName ?? host,
              models: [policy.model, ...policy.aliases],
              version: backend.version ?? '1',
            }));
          }
        }
      }
    }
  }
  return pods;
}

interface Scenario {
  label: string;
  headers: Record<string, string>;
  calls: number;
  send: (headers: Record<string, string>) => Promise<InferenceIdentity>;
}

async function run(scenario: Scenario): Promise<{ byPod: Map<string, { version: string; count: number }>; errors: string[] }> {
  const byPod = new Map<string, { version: string; count: number }>();
  const errors: string[] = [];
  let started = 0;
  const worker = async () => {
    while (started < scenario.calls) {
      started += 1;
      try {
        const identity = await scenario.send(scenario.headers);
        const entry = byPod.get(identity.pod) ?? { version: identity.version, count: 0 };
        entry.count += 1;
        byPod.set(identity.pod, entry);
      } catch (error) {
        errors.push(`${grpc.status[(error as grpc.ServiceError).code]}: ${(error as grpc.ServiceError).details}`);
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { byPod, errors };
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  for (const [index, row] of rows.entries()) {
    console.log(row.map((cell, column) => (column >= 4 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  '));
    if (index === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

async function main(): Promise<number> {
  const pods = await startPods();
  const server = await startServer({
    source: { kind: 'folder', dir: exampleDir },
    xdsAddress: '127.0.0.1:0',
    adminAddress: '127.0.0.1:0',
    settings: DEFAULT_SETTINGS,
    logger: createLogger('warn'),
  });
  process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({
    xds_servers: [{ server_uri: `127.0.0.1:${server.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: 'demo-client', cluster: 'demo', locality: {} },
  });
  xds.register();
  const triton = createTritonClient('xds:///infermesh');
  const tfserving = createTfServingClient('xds:///infermesh');
  const viaTriton = (model: string) => (headers: Record<string, string>) => tritonInfer(triton, model, { metadata: headers, timeoutMs: 5_000 });
  const viaTfServing = (model: string) => (headers: Record<string, string>) => tfServingPredict(tfserving, model, { metadata: headers, timeoutMs: 5_000 });
  const scenarios: Scenario[] = [
    { label: 'resnet50', headers: { 'x-model': 'resnet50' }, calls: 1000, send: viaTriton('resnet50') },
    { label: 'resnet50 v2', headers: { 'x-model': 'resnet50', 'x-model-version': '2' }, calls: 100, send: viaTriton('resnet50') },
    { label: 'resnet (alias)', headers: { 'x-model': 'resnet' }, calls: 100, send: viaTriton('resnet50') },
    { label: 'bert', headers: { 'x-model': 'bert' }, calls: 500, send: viaTfServing('bert') },
  ];
  const rows = [['x-model', 'x-model-version', 'pod', 'version', 'requests', 'share']];
  let failed = 0;
  try {
    for (const scenario of scenarios) {
      const { byPod, errors } = await run(scenario);
      failed += errors.length;
      for (const [pod, { version, count }] of [...byPod.entries()].sort()) {
        rows.push([scenario.headers['x-model'] ?? '', scenario.headers['x-model-version'] ?? '-', pod, version, String(count), `${((100 * count) / scenario.calls).toFixed(1)}%`]);
      }
      for (const error of new Set(errors)) console.error(`${scenario.label}: ${error}`);
    }
    printTable(rows);
    console.log('');
    for (const [label, headers] of [['unknown model', { 'x-model': 'no-such-model' }], ['no x-model header', {}]] as const) {
      const outcome = await tritonInfer(triton, 'resnet50', { metadata: headers, timeoutMs: 5_000 }).then(
        () => 'OK (unexpected)',
        (error: grpc.ServiceError) => grpc.status[error.code],
      );
      console.log(`${label.padEnd(18)} -> ${outcome}`);
    }
  } finally {
    triton.close();
    tfserving.close();
    await server.close();
    await Promise.all(pods.map((pod) => pod.close()));
  }
  console.log(failed === 0 ? '\nall calls served by the pods their policies name' : `\n${failed} call(s) failed`);
  return failed === 0 ? 0 : 1;
}

// The xDS client keeps retrying its (now closed) control plane connection; exit explicitly.
process.exit(await main());
