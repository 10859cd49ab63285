/**
 * npm run demo: the example folder, served for real on this machine. Starts a fake Triton or TF Serving pod
 * for every ready endpoint the example's EndpointSlices list (each on its own 127.0.0.x address, on the
 * slice's grpc and http ports), the control plane on the same folder, and a proxyless @grpc/grpc-js-xds
 * client that sends requests with x-model. When an Envoy is installed (INFERMESH_ENVOY or scripts/envoy.sh),
 * the same requests go through real Envoy sidecars too: gRPC over h2c, and REST over HTTP/1.1 to the same
 * policies with `protocol: http`. Prints who served what and the error answers, and exits 0 when every call
 * landed where the policies say and every error answer is the one README promises.
 */
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  createTfServingClient,
  createTritonClient,
  startFakeModelServer,
  tfServingPredict,
  tritonInfer,
  type FakeModelServer,
  type InferenceIdentity,
  type TfServingClient,
  type TritonClient,
} from '../demo/fake-model-server.ts';
import { startServer } from '../src/cli/serve.ts';
import { createLogger } from '../src/logging/logger.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { isPolicyConfigMap, parsePolicyConfigMap } from '../src/policy/index.ts';
import { readFolder } from '../src/sources/folder.ts';
import { restCall, startSidecar, type DemoSidecar } from './demo-sidecar.ts';
import { anyEnvoy } from './envoy-lookup.ts';

const exampleDir = path.resolve(import.meta.dirname, '../examples/basic');

/** One fake pod per ready endpoint of every backend Service the example's policies name, on the slice's ports. */
async function startPods(pods: FakeModelServer[]): Promise<void> {
  const world = await readFolder(exampleDir);
  for (const policy of world.configMaps.filter(isPolicyConfigMap).flatMap((cm) => parsePolicyConfigMap(cm).policies)) {
    for (const backend of policy.backends) {
      const slices = world.endpointSlices.filter((s) => s.namespace === policy.source.namespace && s.serviceName === backend.service);
      for (const slice of slices) {
        const portNamed = (name: string) => slice.ports.find((p) => p.name === name)?.port ?? 0;
        for (const endpoint of slice.endpoints.filter((e) => e.ready)) {
          for (const host of endpoint.addresses) {
            pods.push(await startFakeModelServer({
              kind: policy.server === 'tfserving' ? 'tfserving' : 'triton',
              host,
              grpcPort: portNamed('grpc'),
              httpPort: portNamed('http'),
              pod: endpoint.podName ?? host,
              models: [policy.model, ...policy.aliases],
              version: backend.version ?? '1',
            }));
          }
        }
      }
    }
  }
}

/** A copy of the example whose policies send HTTP/1.1 to the pods' REST ports (`protocol: http`, `port: http`). */
async function restVariant(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'infermesh-demo-rest-'));
  for (const name of await readdir(exampleDir)) {
    let text = await readFile(path.join(exampleDir, name), 'utf8');
    if (text.includes('infermesh.io/policy')) {
      text = text.replace(/^(\s+)protocol: grpc$/gm, '$1protocol: http').replace(/^(\s+(?:- )?)port: grpc$/gm, '$1port: http');
      if (/protocol: grpc|port: grpc/.test(text)) throw new Error(`demo: could not rewrite ${name} to protocol: http`);
    }
    await writeFile(path.join(dir, name), text);
  }
  return dir;
}

type Send = (headers: Record<string, string>) => Promise<InferenceIdentity>;

interface Scenario {
  headers: Record<string, string>;
  /** REST path, for the REST table. */
  path?: string;
  calls: number;
  send: Send;
  /** The version a pin (header or /versions/V path) must land on. */
  pinned?: string;
}

const describeError = (error: unknown) => {
  const e = error as Partial<grpc.ServiceError>;
  return e.code !== undefined ? `${grpc.status[e.code]}: ${e.details}` : (error as Error).message;
};

async function run(scenario: Scenario): Promise<{ byPod: Map<string, { version: string; count: number }>; errors: string[] }> {
  const byPod = new Map<string, { version: string; count: number }>();
  const errors: string[] = [];
  let started = 0;
  const worker = async () => {
    while (started < scenario.calls) {
      started += 1;
      try {
        const identity = await scenario.send(scenario.headers);
        const pinned = scenario.pinned ?? scenario.headers['x-model-version'];
        if (pinned !== undefined && identity.version !== pinned) errors.push(`pinned to version ${pinned}, served by ${identity.pod} (version ${identity.version})`);
        const entry = byPod.get(identity.pod) ?? { version: identity.version, count: 0 };
        entry.count += 1;
        byPod.set(identity.pod, entry);
      } catch (error) {
        errors.push(describeError(error));
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return { byPod, errors };
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const numeric = rows[0]!.map((header) => header === 'requests' || header === 'share');
  for (const [index, row] of rows.entries()) {
    console.log(row.map((cell, column) => (numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd());
    if (index === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}

/** Runs the scenarios and prints who served what; returns the number of failed calls. */
async function table(title: string, scenarios: Scenario[]): Promise<number> {
  const withPath = scenarios.some((s) => s.path !== undefined);
  const rows = [['x-model', 'x-model-version', ...(withPath ? ['path'] : []), 'pod', 'version', 'requests', 'share']];
  let failed = 0;
  const problems: string[] = [];
  for (const scenario of scenarios) {
    const { byPod, errors } = await run(scenario);
    failed += errors.length;
    for (const [pod, { version, count }] of [...byPod.entries()].sort()) {
      rows.push([
        scenario.headers['x-model'] ?? '-',
        scenario.headers['x-model-version'] ?? '-',
        ...(withPath ? [scenario.path ?? ''] : []),
        pod,
        version,
        String(count),
        `${((100 * count) / scenario.calls).toFixed(1)}%`,
      ]);
    }
    for (const error of new Set(errors)) problems.push(`${scenario.headers['x-model'] ?? scenario.path}: ${error}`);
  }
  console.log(`${title}\n`);
  printTable(rows);
  for (const problem of problems) console.error(problem);
  console.log('');
  return failed;
}

function grpcScenarios(triton: TritonClient, tfserving: TfServingClient): Scenario[] {
  const viaTriton = (model: string): Send => (headers) => tritonInfer(triton, model, { metadata: headers, timeoutMs: 5_000 });
  const viaTfServing = (model: string): Send => (headers) => tfServingPredict(tfserving, model, { metadata: headers, timeoutMs: 5_000 });
  return [
    { headers: { 'x-model': 'resnet50' }, calls: 1000, send: viaTriton('resnet50') },
    { headers: { 'x-model': 'resnet50', 'x-model-version': '2' }, calls: 100, send: viaTriton('resnet50') },
    { headers: { 'x-model': 'resnet' }, calls: 100, send: viaTriton('resnet50') },
    { headers: { 'x-model': 'bert' }, calls: 500, send: viaTfServing('bert') },
  ];
}

function restScenarios(sidecar: DemoSidecar): Scenario[] {
  const via = (restPath: string): Send => async (headers) => {
    const answer = await restCall(sidecar.url, restPath, headers);
    if (answer.status !== 200 || answer.pod === undefined) throw new Error(`HTTP ${answer.status}: ${answer.body}`);
    return { pod: answer.pod, version: answer.version ?? '?', model: '' };
  };
  const scenario = (headers: Record<string, string>, restPath: string, calls: number): Scenario => {
    const pinned = /\/versions\/([^/]+)\//.exec(restPath)?.[1];
    return { headers, path: restPath, calls, send: via(restPath), ...(pinned === undefined ? {} : { pinned }) };
  };
  return [
    scenario({ 'x-model': 'resnet50' }, '/v2/models/resnet50/infer', 1000),
    scenario({ 'x-model': 'resnet50', 'x-model-version': '2' }, '/v2/models/resnet50/infer', 100),
    scenario({ 'x-model': 'resnet' }, '/v2/models/resnet/infer', 100),
    scenario({ 'x-model': 'bert' }, '/v1/models/bert:predict', 500),
    scenario({}, '/v2/models/resnet50/versions/2/infer', 100),
    scenario({}, '/v1/models/bert:predict', 100),
  ];
}

interface ErrorCase {
  label: string;
  headers: Record<string, string>;
  restPath: string;
  grpcStatus: keyof typeof grpc.status;
  httpStatus: number;
}

const ERROR_CASES: ErrorCase[] = [
  { label: 'unknown model (x-model: no-such-model)', headers: { 'x-model': 'no-such-model' }, restPath: '/v2/models/no-such-model/infer', grpcStatus: 'NOT_FOUND', httpStatus: 404 },
  { label: 'unknown version (x-model: resnet50, x-model-version: 9)', headers: { 'x-model': 'resnet50', 'x-model-version': '9' }, restPath: '/v2/models/resnet50/infer', grpcStatus: 'NOT_FOUND', httpStatus: 404 },
  { label: 'no x-model header', headers: {}, restPath: '/infer', grpcStatus: 'INVALID_ARGUMENT', httpStatus: 400 },
];

/** Prints each error answer; returns how many differ from what README promises. */
async function errorAnswers(grpcClients: [string, TritonClient][], rest: DemoSidecar | undefined): Promise<number> {
  let wrong = 0;
  console.log('error answers');
  for (const errorCase of ERROR_CASES) {
    console.log(`\n${errorCase.label}`);
    for (const [label, client] of grpcClients) {
      const outcome = await tritonInfer(client, 'resnet50', { metadata: errorCase.headers, timeoutMs: 5_000 }).then(
        () => ({ ok: false, text: 'OK (unexpected)' }),
        (error: grpc.ServiceError) => ({ ok: error.code === grpc.status[errorCase.grpcStatus], text: describeError(error) }),
      );
      if (!outcome.ok) wrong += 1;
      console.log(`  ${label.padEnd(15)} ${outcome.text}${outcome.ok ? '' : `   <- expected ${errorCase.grpcStatus}`}`);
    }
    if (rest) {
      const answer = await restCall(rest.url, errorCase.restPath, errorCase.headers);
      const ok = answer.status === errorCase.httpStatus && answer.contentType.startsWith('application/json');
      if (!ok) wrong += 1;
      console.log(`  ${'Envoy REST'.padEnd(15)} POST ${errorCase.restPath} -> ${answer.status} ${answer.contentType} ${answer.body}${ok ? '' : `   <- expected ${errorCase.httpStatus} JSON`}`);
    }
  }
  return wrong;
}

async function main(): Promise<number> {
  const pods: FakeModelServer[] = [];
  const sidecars: DemoSidecar[] = [];
  const clients: { close(): void }[] = [];
  const cleanup: (() => Promise<void>)[] = [];
  let failed = 0;
  try {
    await startPods(pods);
    const server = await startServer({
      source: { kind: 'folder', dir: exampleDir },
      xdsAddress: '127.0.0.1:0',
      adminAddress: '127.0.0.1:0',
      settings: DEFAULT_SETTINGS,
      logger: createLogger('warn'),
    });
    cleanup.push(() => server.close());
    process.env['GRPC_XDS_BOOTSTRAP_CONFIG'] = JSON.stringify({
      xds_servers: [{ server_uri: `127.0.0.1:${server.xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
      node: { id: 'demo-client', cluster: 'demo', locality: {} },
    });
    xds.register();
    const triton = createTritonClient('xds:///infermesh');
    const tfserving = createTfServingClient('xds:///infermesh');
    clients.push(triton, tfserving);
    failed += await table('proxyless gRPC (@grpc/grpc-js-xds dialling xds:///infermesh)', grpcScenarios(triton, tfserving));

    const grpcClients: [string, TritonClient][] = [['proxyless gRPC', triton]];
    let rest: DemoSidecar | undefined;
    const envoy = anyEnvoy();
    if (!envoy.found) {
      console.log(`Envoy sidecar: not run: ${envoy.problem}`);
      if (!envoy.problem.includes('scripts/envoy.sh')) console.log('  get Envoy with `bash scripts/envoy.sh`, then run `npm run demo` again');
      console.log('');
    } else {
      const grpcSidecar = await startSidecar(exampleDir, envoy.value, 'demo-grpc.models');
      sidecars.push(grpcSidecar);
      const restDir = await restVariant();
      cleanup.push(() => rm(restDir, { recursive: true, force: true }));
      rest = await startSidecar(restDir, envoy.value, 'demo-rest.models');
      sidecars.push(rest);
      const viaEnvoy = createTritonClient(grpcSidecar.authority);
      const tfViaEnvoy = createTfServingClient(grpcSidecar.authority);
      clients.push(viaEnvoy, tfViaEnvoy);
      failed += await table(`Envoy ${envoy.value.version} sidecar, gRPC over h2c to ${grpcSidecar.authority}`, grpcScenarios(viaEnvoy, tfViaEnvoy));
      failed += await table(`Envoy ${envoy.value.version} sidecar, REST over HTTP/1.1 to ${rest.authority} (the same policies with protocol: http)`, restScenarios(rest));
      grpcClients.push(['Envoy gRPC', viaEnvoy]);
    }
    failed += await errorAnswers(grpcClients, rest);
  } catch (error) {
    failed += 1;
    console.error(`demo failed: ${(error as Error).stack ?? String(error)}`);
  } finally {
    for (const client of clients) client.close();
    for (const sidecar of sidecars) {
      await sidecar.stop(failed > 0);
      if (failed > 0) console.error(`Envoy log kept: ${sidecar.envoy.logFile}`);
    }
    for (const step of cleanup.reverse()) await step();
    await Promise.all(pods.map((pod) => pod.close()));
  }
  console.log(failed === 0 ? '\nall calls served by the pods their policies name, every error answer as promised' : `\n${failed} call(s) or answer(s) not as promised`);
  return failed === 0 ? 0 : 1;
}

// The xDS client keeps retrying its (now closed) control plane connection; exit explicitly.
process.exit(await main());
