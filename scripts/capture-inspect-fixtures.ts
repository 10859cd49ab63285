/**
 * Captures a real Envoy's admin answers for the inspect format tests: `npx node scripts/capture-inspect-fixtures.ts`
 * (needs Envoy 1.40 from `bash scripts/envoy.sh`). Two fake pods behind one sidecar (resnet50 stable and canary
 * over gRPC, bert over REST), a fixed number of requests, then /server_info, /clusters?format=json,
 * /stats?format=json, /stats/prometheus and /config_dump?include_eds are written to
 * test/inspect/fixtures/envoy-1.40/, with capture.json naming what the pods counted. Addresses, ports and
 * times differ per run; the tests read them from capture.json, not from constants.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SteadyLoad } from '../test/sidecar/steady-load.ts';
import { Mesh } from '../test/support/mesh.ts';
import { Sidecar } from '../test/support/sidecar.ts';
import { REPO, envoyBinaries } from '../test/support/tools.ts';

const VERSION = '1.40.0';
const OUT = path.join(REPO, 'test', 'inspect', 'fixtures', 'envoy-1.40');
const REQUESTS = 40;

const lookup = envoyBinaries();
const binary = lookup.found ? lookup.value.find((b) => b.version === VERSION) : undefined;
if (!binary) throw new Error(`Envoy ${VERSION} not found: ${lookup.found ? 'not among the pinned versions' : lookup.problem}`);

const mesh = await Mesh.start(
  [
    { kind: 'triton', host: '127.0.0.93', pod: 'resnet50-v1-0', service: 'resnet50-v1', models: ['resnet50'], version: '1' },
    { kind: 'triton', host: '127.0.0.94', pod: 'resnet50-v2-0', service: 'resnet50-v2', models: ['resnet50'], version: '2' },
    { kind: 'tfserving', host: '127.0.0.95', pod: 'bert-0', service: 'bert', models: ['bert'], version: '1' },
  ],
  {
    'resnet50-policy': 'model: resnet50\nserver: triton\nbackends:\n  - { name: stable, service: resnet50-v1, port: grpc, version: "1", weight: 80 }\n  - { name: canary, service: resnet50-v2, port: grpc, version: "2", weight: 20 }\n',
    'bert-policy': 'model: bert\nserver: tfserving\nprotocol: http\nbackends: [{ name: main, service: bert, port: http }]\n',
  },
);
let sidecar: Sidecar | undefined;
try {
  sidecar = await Sidecar.start(mesh, binary, 'GRPC', 'web-7d9f8c6b5-x2k4q.default');
  const load = new SteadyLoad(sidecar.url);
  load.start('resnet50', { kind: 'grpc', model: 'resnet50' }, 1, 0);
  load.start('bert', { kind: 'rest', model: 'bert', path: '/v1/models/bert:predict' }, 1, 0);
  while ([...load.outcomes.values()].some((list) => list.length < REQUESTS)) await new Promise((resolve) => setTimeout(resolve, 5));
  await load.stop();
  // Envoy computes histogram quantiles at each stats flush (every 5 s by default): wait for one.
  await new Promise((resolve) => setTimeout(resolve, 5_500));
  mkdirSync(OUT, { recursive: true });
  const files: Record<string, string> = {
    'server_info.json': '/server_info',
    'clusters.json': '/clusters?format=json',
    'stats.json': '/stats?format=json',
    'stats.prom': '/stats/prometheus',
    'config_dump.json': '/config_dump?include_eds',
  };
  for (const [file, adminPath] of Object.entries(files)) writeFileSync(path.join(OUT, file), await sidecar.envoy.admin(adminPath));
  const served = Object.fromEntries([...mesh.pods.values()].map((pod) => [pod.pod, pod.requests]));
  writeFileSync(path.join(OUT, 'capture.json'), `${JSON.stringify({ envoyVersion: VERSION, nodeId: sidecar.envoy.nodeId, served }, null, 2)}\n`);
  console.log(`wrote ${OUT}: ${JSON.stringify(served)}`);
} finally {
  await sidecar?.stop();
  await mesh.close();
}
