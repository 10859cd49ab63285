import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { fetchClientStatus } from '../../src/status/csds-client.ts';
import { eventually } from '../support/eventually.ts';
import { RawAdsClient } from '../support/raw-ads-client.ts';
import { RawDeltaClient } from '../support/raw-delta-client.ts';
import { deltaContent, differences, fetchDelta as fetchDeltaFrom, fetchSotw as fetchSotwFrom, sortedByName, sotwContent as sotwContentOf, subscriptions, type SotwAnswer } from '../support/replica-resources.ts';
import { ServeProcess } from '../support/serve-process.ts';

/**
 * Two replicas (`infermesh serve` processes) on the same folder of many models must hand out the same bytes
 * and the same versions, whatever each saw before: replica A lives through changes (among them a second
 * ConfigMap, without creationTimestamp, claiming a model another one without it holds), replica B starts
 * after them. A client that moves from A to B with what it holds (SotW version_info, delta initial_resource_versions)
 * gets nothing resent. Only the nonce and control_plane (which replica answered) may differ.
 */
const root = loadEnvoyProtos();
const MODELS = 40;
const model = (i: number) => `model-${i}`;
const names = Array.from({ length: MODELS }, (_, i) => model(i));
const aliasOf = (i: number) => (i % 5 === 0 ? [`alias-${i}`] : []);

function policyYaml(i: number, stableWeight: number, maxRequests = i % 7 === 0 ? 64 : undefined): string {
  const rest = i % 3 === 0;
  const created = i % 2 === 0 ? '\n  creationTimestamp: "2026-01-0' + String((i % 9) + 1) + 'T00:00:00Z"' : '';
  const policy = [
    `model: ${model(i)}`,
    ...(aliasOf(i).length > 0 ? [`aliases: [${aliasOf(i).join(', ')}]`] : []),
    `server: ${rest ? 'tfserving' : 'triton'}`,
    `protocol: ${rest ? 'http' : 'grpc'}`,
    'backends:',
    `  - { name: stable, service: m${i}-stable, port: ${rest ? 'http' : 'grpc'}, version: "1", weight: ${stableWeight} }`,
    `  - { name: canary, service: m${i}-canary, port: ${rest ? 'http' : 'grpc'}, version: "2", weight: ${100 - stableWeight} }`,
    'retries: { attempts: 2, perTryTimeout: 5s }',
    ...(i % 4 === 0 ? ['outlierDetection: { consecutiveErrors: 5, interval: 1s, baseEjectionTime: 30s }'] : []),
    ...(maxRequests !== undefined ? [`circuitBreaker: { maxRequests: ${maxRequests} }`] : []),
    // Zone failover: per-zone ClusterLoadAssignments (zone-0 and zone-1 hold endpoints), which replicas must agree on too.
    ...(i % 6 === 1 ? ['zoneFailover: { enabled: true }'] : []),
  ];
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: m${i}-policy
  namespace: models${created}
  labels: { infermesh.io/policy: "true" }
data:
  policy.yaml: |
${policy.map((line) => `    ${line}`).join('\n')}
`;
}

function slicesYaml(i: number): string {
  return ['stable', 'canary']
    .map((backend, b) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: m${i}-${backend}-x1
  namespace: models
  labels: { kubernetes.io/service-name: m${i}-${backend} }
addressType: IPv4
ports: [{ name: grpc, port: 8001 }, { name: http, port: 8000 }]
endpoints:
${[0, 1, 2].map((e) => `  - addresses: ["10.${b}.${i}.${e}"]\n    conditions: { ready: ${e !== 2}, serving: true, terminating: false }\n    zone: zone-${e}`).join('\n')}
`)
    .join('---\n');
}

/** Two ConfigMaps without creationTimestamp claiming one model: who owns it must not depend on who saw what when. */
function claimYaml(name: string, backend: string, service: string): string {
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: models
  labels: { infermesh.io/policy: "true" }
data:
  policy.yaml: |
    model: contested
    backends: [{ name: ${backend}, service: ${service}, port: grpc }]
`;
}

let dir: string;
const replicas: ServeProcess[] = [];
const clients: { close(): void }[] = [];

async function writeAtomically(name: string, text: string): Promise<void> {
  await writeFile(path.join(dir, `.${name}.tmp`), text);
  await rename(path.join(dir, `.${name}.tmp`), path.join(dir, name));
}

async function snapshotVersion(replica: ServeProcess): Promise<string> {
  const status = (await (await fetch(`http://127.0.0.1:${replica.adminPort}/status`)).json()) as { snapshotVersion?: string };
  return status.snapshotVersion ?? '';
}

const tables = ['infermesh', 'infermesh/contested', 'infermesh/no-such-model', ...names.flatMap((m, i) => [`infermesh/${m}`, ...aliasOf(i).map((a) => `infermesh/${a}`)])];
const clusters = ['infermesh|contested|aaa', 'infermesh|contested|zzz', ...names.flatMap((m) => [`infermesh|${m}|stable`, `infermesh|${m}|canary`])];
const wanted = subscriptions(tables, clusters);
const fetchSotw = (replica: ServeProcess, nodeId: string, zone?: string) => fetchSotwFrom(root, `127.0.0.1:${replica.xdsPort}`, nodeId, wanted, clients, zone);
const fetchDelta = (replica: ServeProcess, nodeId: string, zone?: string) => fetchDeltaFrom(root, `127.0.0.1:${replica.xdsPort}`, nodeId, wanted, clients, zone);
const sotwContent = (answer: SotwAnswer) => sotwContentOf(root, answer);

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'infermesh-replicas-'));
  for (let i = 0; i < MODELS; i += 1) {
    await writeFile(path.join(dir, `m${i}-policy.yaml`), policyYaml(i, 90));
    await writeFile(path.join(dir, `m${i}-slices.yaml`), slicesYaml(i));
  }
  await writeFile(path.join(dir, 'zz-claim.yaml'), claimYaml('zz-claim', 'zzz', 'm0-stable'));
  const a = await ServeProcess.start(dir);
  replicas.push(a);
  // Replica A lives through changes replica B never sees: B starts on the result.
  const before = await snapshotVersion(a);
  await writeAtomically('m1-policy.yaml', policyYaml(1, 50));
  // A sees zz-claim first; B sees both at once.
  await writeAtomically('aa-claim.yaml', claimYaml('aa-claim', 'aaa', 'm1-stable'));
  await writeAtomically('m39-slices.yaml', slicesYaml(38).replaceAll('m38-', 'm39-').replaceAll('.38.', '.39.'));
  await writeAtomically('m2-policy.yaml', policyYaml(2, 70));
  await writeAtomically('m2-policy.yaml', policyYaml(2, 90));
  // /status snapshotVersion counts this replica's own snapshots: A is past the changes once it stops moving.
  await eventually(async () => expect(await snapshotVersion(a)).not.toBe(before), { timeoutMs: 10_000 });
  await eventually(async () => {
    const seen = await snapshotVersion(a);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await snapshotVersion(a)).toBe(seen);
  });
  replicas.push(await ServeProcess.start(dir));
  // The snapshot version is a digest of what is served: B, with no history, names it as A does.
  expect(await snapshotVersion(replicas[1]!)).toBe(await snapshotVersion(a));
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.close();
  for (const replica of replicas) replica.kill();
  await Promise.all(replicas.map((replica) => replica.exited));
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('two replicas fed the same world', () => {
  let sotwA: SotwAnswer[];

  it('answer every SotW subscription with the same version_info and byte-identical resources', async () => {
    const [a, b] = replicas as [ServeProcess, ServeProcess];
    sotwA = await fetchSotw(a, 'agree-sotw');
    const sotwB = await fetchSotw(b, 'agree-sotw');
    for (const answer of sotwA) expect(answer.response.resources.length, answer.label).toBeGreaterThan(0);
    // Every table and target: the whole mesh's, each model's and alias's, and the one for a name no model has.
    expect(sotwA.find((x) => x.label === 'RDS every table')?.response.resources).toHaveLength(3 + MODELS + MODELS / 5);
    expect(sotwA.find((x) => x.label === 'LDS per-model targets')?.response.resources).toHaveLength(3 + MODELS + MODELS / 5);
    expect(differences(sotwA.map(sotwContent), sotwB.map(sotwContent))).toEqual([]);
  });

  it('answer every delta subscription with the same per-resource versions and byte-identical resources', async () => {
    const [a, b] = replicas as [ServeProcess, ServeProcess];
    const deltaA = await fetchDelta(a, 'agree-delta');
    const deltaB = await fetchDelta(b, 'agree-delta');
    for (const answer of deltaA) expect(answer.response.resources.length, answer.label).toBeGreaterThan(0);
    // Delta and SotW hand out the same resource bytes too.
    const sotwBytes = new Map(sotwA.flatMap((answer) => sotwContent(answer).resources.map((r) => [`${r.type_url} ${r.name}`, r.bytes] as const)));
    for (const answer of deltaA) for (const r of deltaContent(answer).resources) expect(sotwBytes.get(`${r.type_url} ${r.name}`), r.name).toBe(r.bytes);
    // Order within a delta response carries no meaning; bytes and versions do.
    expect(differences(deltaA.map(deltaContent).map(sortedByName), deltaB.map(deltaContent).map(sortedByName))).toEqual([]);
    expect(differences(deltaA.map(deltaContent), deltaB.map(deltaContent))).toEqual([]);
  });

  it('answer a client in a zone with that zone\'s ClusterLoadAssignments for zoneFailover models, alike on both replicas, and resume it on B in sync', async () => {
    const [a, b] = replicas as [ServeProcess, ServeProcess];
    const eds = (answers: SotwAnswer[]) => answers.find((x) => x.request.kind === 'endpoint')!;
    const [flat, inA, inB] = [eds(sotwA), eds(await fetchSotw(a, 'zoned-sotw', 'zone-1')), eds(await fetchSotw(b, 'zoned-sotw', 'zone-1'))];
    expect(differences([sotwContent(inA)], [sotwContent(inB)])).toEqual([]);
    expect(inA.response.version_info).not.toBe(flat.response.version_info);
    // Only the zoneFailover models' clusters differ from what a client without a zone gets.
    const bytes = (answer: SotwAnswer) => new Map(sotwContent(answer).resources.map((r) => [r.name, r.bytes]));
    const [zoned, plain] = [bytes(inA), bytes(flat)];
    const changed = [...zoned.keys()].filter((name) => zoned.get(name) !== plain.get(name)).sort();
    expect(changed).toEqual(names.flatMap((m, i) => (i % 6 === 1 ? [`infermesh|${m}|canary`, `infermesh|${m}|stable`] : [])).sort());
    const deltaA = (await fetchDelta(a, 'zoned-delta', 'zone-1')).map(deltaContent).map(sortedByName);
    const deltaB = (await fetchDelta(b, 'zoned-delta', 'zone-1')).map(deltaContent).map(sortedByName);
    expect(differences(deltaA, deltaB)).toEqual([]);
    // A zone-1 client moving from A to B with the version it holds is in sync there without a resend.
    const mover = new RawAdsClient(root, `127.0.0.1:${b.xdsPort}`);
    clients.push(mover);
    mover.send({ node: { id: 'zoned-mover', locality: { zone: 'zone-1' } }, type_url: TYPE_URLS.endpoint, resource_names: inA.request.names, version_info: inA.response.version_info });
    await eventually(async () => {
      const status = await fetchClientStatus(root, `127.0.0.1:${b.xdsPort}`);
      const configs = status.find((c) => c.node?.id === 'zoned-mover')?.generic_xds_configs ?? [];
      expect(configs.length).toBeGreaterThan(0);
      // Every cluster it was served (a name it asked for that no model has, the conflict's loser, is not one).
      const served = configs.filter((c) => zoned.has(c.name));
      expect(served).toHaveLength(zoned.size);
      expect(served.filter((c) => c.config_status !== 'SYNCED' || c.version_info !== inA.response.version_info).map((c) => c.name)).toEqual([]);
    });
    expect(mover.received).toEqual([]);
  });

  it('resume a client that moves from A to B with what it holds: nothing resent, SYNCED on B, then the next change', async () => {
    const [a, b] = replicas as [ServeProcess, ServeProcess];
    const held = await fetchSotw(a, 'mover-sotw');
    const heldDelta = await fetchDelta(a, 'mover-delta');
    // The same nonce-less requests, now to B, naming the version (SotW) or the resource versions (delta) held.
    const sotw = held.map(({ label, request, response }) => {
      const client = new RawAdsClient(root, `127.0.0.1:${b.xdsPort}`);
      clients.push(client);
      client.send({ node: { id: 'mover-sotw' }, type_url: TYPE_URLS[request.kind], resource_names: request.names, version_info: response.version_info });
      return { label, kind: request.kind, version: response.version_info, client };
    });
    const delta = heldDelta.map(({ label, kind, names: subscribe, response }) => {
      const client = new RawDeltaClient(root, `127.0.0.1:${b.xdsPort}`);
      clients.push(client);
      const initial = Object.fromEntries(response.resources.map((r) => [r.name, r.version]));
      client.send({ node: { id: 'mover-delta' }, type_url: TYPE_URLS[kind], resource_names_subscribe: subscribe, initial_resource_versions: initial });
      return { label, kind, client };
    });
    // B counts both movers as in sync at what they hold (CSDS), without having sent them anything.
    await eventually(async () => {
      const status = await fetchClientStatus(root, `127.0.0.1:${b.xdsPort}`);
      const mover = status.find((c) => c.node?.id === 'mover-sotw');
      const configs = mover?.generic_xds_configs ?? [];
      expect(configs.length).toBeGreaterThan(0);
      expect(configs.filter((c) => c.config_status !== 'SYNCED').map((c) => `${c.type_url} ${c.name} ${c.config_status}`)).toEqual([]);
      const moverDelta = status.find((c) => c.node?.id === 'mover-delta')?.generic_xds_configs ?? [];
      expect(moverDelta.length).toBeGreaterThan(0);
      expect(moverDelta.filter((c) => c.config_status !== 'SYNCED').map((c) => `${c.type_url} ${c.name} ${c.config_status}`)).toEqual([]);
    });
    // The streams are live: a change to one model reaches them, and it is the first thing they receive.
    // A circuit breaker changes model-3's clusters only.
    await writeAtomically('m3-policy.yaml', policyYaml(3, 90, 32));
    const clusterSotw = sotw.find((s) => s.label === 'CDS wildcard')!;
    const update = await clusterSotw.client.next(() => true);
    expect(update.version_info).not.toBe(clusterSotw.version);
    const clusterDelta = delta.find((d) => d.label === 'CDS wildcard')!;
    const deltaUpdate = await clusterDelta.client.next(() => true);
    expect(deltaUpdate.resources.map((r) => r.name).sort()).toEqual(['infermesh|model-3|canary', 'infermesh|model-3|stable']);
    // A short grace for anything else B might still (wrongly) resend after the change settled.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const resent = [
      ...sotw.flatMap(({ label, version, client }) => client.received.filter((r) => r.version_info === version).map(() => `SotW ${label} resent ${version}`)),
      ...delta.flatMap(({ label, client }) => client.received.flatMap((r) => r.resources.filter((x) => !x.name.startsWith('infermesh|model-3|') && !x.name.endsWith('/model-3')).map((x) => `delta ${label} resent ${x.name}`))),
    ];
    expect(resent).toEqual([]);
  });
});
