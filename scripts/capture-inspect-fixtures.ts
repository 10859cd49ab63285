/**
 * Captures a real Envoy's admin answers for the inspect format tests: `npx node scripts/capture-inspect-fixtures.ts`
 * (needs Envoy 1.40 from `bash scripts/envoy.sh`). Two fake pods behind one sidecar (resnet50 stable and canary
 * over gRPC, bert over REST), a fixed number of requests, then /server_info, /clusters?format=json, the stats
 * and /config_dump?include_eds are written to test/inspect/fixtures/envoy-1.40/, with capture.json naming what
 * the pods counted. Addresses, ports and times differ per run; the tests read them from capture.json.
 *
 * Kept small (under 100 KB) without leaving Envoy's own formats: the JSON stats are asked with inspect's own
 * filter, used stats only; the Prometheus text, which inspect reads unfiltered, is asked for the used stats
 * inspect reads plus a few it must skip (other series of the model clusters, the xDS
 * cluster's, the server's); and the node's `extensions` (every extension the build has, ~100 KB in each of
 * /server_info and the bootstrap in /config_dump, read by nothing) are dropped from those two answers, which
 * are then written compact.
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

/** Drops every `node.extensions` list (server_info's node, the bootstrap's node) and nothing else. */
function withoutExtensions(body: string): string {
  const json: unknown = JSON.parse(body);
  const strip = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(strip);
    if (typeof value !== 'object' || value === null) return;
    for (const [key, child] of Object.entries(value)) {
      if (key === 'node' && typeof child === 'object' && child !== null) Reflect.deleteProperty(child, 'extensions');
      strip(child);
    }
  };
  strip(json);
  return `${JSON.stringify(json)}\n`;
}

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
  sidecar = await Sidecar.start(mesh, binary, 'web-7d9f8c6b5-x2k4q.default');
  const load = new SteadyLoad(sidecar.url);
  load.start('resnet50', { kind: 'grpc', model: 'resnet50' }, 1, 0);
  load.start('bert', { kind: 'rest', model: 'bert', path: '/v1/models/bert:predict' }, 1, 0);
  while ([...load.outcomes.values()].some((list) => list.length < REQUESTS)) await new Promise((resolve) => setTimeout(resolve, 5));
  await load.stop();
  // Envoy computes histogram quantiles at each stats flush (every 5 s by default): wait for one.
  await new Promise((resolve) => setTimeout(resolve, 5_500));
  mkdirSync(OUT, { recursive: true });
  // What inspect reads of a model cluster (requests, response classes, retries, timeouts, latency) and, for the
  // parser to skip, a per-code counter, a connection counter, the xDS cluster's and a few server stats.
  const clusterStats = String.raw`^cluster\.infermesh\|[^.]*\.(upstream_rq_([0-9]xx|[0-9]+|total|retry|timeout|time)|upstream_cx_total)$`;
  const promFilter = encodeURIComponent(String.raw`${clusterStats}|^cluster\.infermesh-xds\.upstream_(rq|cx)_total$|^server\.(live|uptime|memory_allocated)$`);
  const files: Record<string, [string, (body: string) => string]> = {
    'server_info.json': ['/server_info', withoutExtensions],
    'clusters.json': ['/clusters?format=json', (body) => body],
    'stats.json': [`/stats?format=json&usedonly&filter=${encodeURIComponent(String.raw`^cluster\.infermesh\|`)}`, (body) => body],
    'stats.prom': [`/stats/prometheus?usedonly&filter=${promFilter}`, (body) => body],
    'config_dump.json': ['/config_dump?include_eds', withoutExtensions],
  };
  for (const [file, [adminPath, trim]] of Object.entries(files)) writeFileSync(path.join(OUT, file), trim(await sidecar.envoy.admin(adminPath)));
  const served = Object.fromEntries([...mesh.pods.values()].map((pod) => [pod.pod, pod.requests]));
  writeFileSync(path.join(OUT, 'capture.json'), `${JSON.stringify({ envoyVersion: VERSION, nodeId: sidecar.envoy.nodeId, served }, null, 2)}\n`);
  console.log(`wrote ${OUT}: ${JSON.stringify(served)}`);
} finally {
  await sidecar?.stop();
  await mesh.close();
}
