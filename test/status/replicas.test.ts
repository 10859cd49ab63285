import { execFile } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import type { RunningServer } from '../../src/cli/serve.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { eventually } from '../support/eventually.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { LeanAdsClient } from '../support/lean-ads-client.ts';
import { Mesh } from '../support/mesh.ts';

/**
 * `infermesh status` against two real replicas (127.0.0.181 and 127.0.0.182, one port) serving one folder,
 * with ADS clients of distinct node ids on each: it lists every proxy with its replica, computes a model's
 * state across both, names a replica that does not answer, and finds the replicas through the Service's
 * EndpointSlices on a (fake, HTTPS) Kubernetes API.
 */
const root = loadEnvoyProtos();
const policy = (maxRequests: number) => `model: m\nserver: triton\nbackends: [{ name: main, service: svc, port: grpc }]\ncircuitBreaker: { maxRequests: ${maxRequests} }\n`;

let mesh: Mesh;
let a: RunningServer;
let b: RunningServer;
let A: string;
let B: string;
let fake: FakeKube;
let silent: net.Server;
const silentSockets = new Set<net.Socket>();
const clients: LeanAdsClient[] = [];
let lagging: LeanAdsClient;

interface ProxyJson { node: string; replica: string; status: string }
interface ReplicaJson { address: string; pod?: string; reachable: boolean; error?: string; proxies: string[] }
interface ModelJson { model: string; state: string; proxies: { node: string; replica: string; state: string }[]; replicas: ReplicaJson[] }

/** `infermesh status` as its own process, with a hook that fails any import of the Kubernetes client. */
function statusProcess(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const hook = 'data:text/javascript,import{registerHooks}from"node:module";registerHooks({resolve(s,c,n){if(s.startsWith("@kubernetes/client-node"))throw new Error("KUBERNETES CLIENT IMPORTED");return n(s,c)}})';
  const repo = path.join(import.meta.dirname, '..', '..');
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', hook, 'bin/infermesh.js', 'status', ...argv], { cwd: repo, timeout: 20_000 }, (error, out, err) => {
      resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, out, err });
    });
  });
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (append: (text: string) => void) => new Writable({ write: (chunk: Buffer, _e, done) => (append(chunk.toString()), done()) });
  const code = await main(argv, sink((t) => (out += t)), sink((t) => (err += t)));
  return { code, out, err };
}

/** A proxy the way a sidecar subscribes over SotW or delta: listeners and clusters, the gRPC table, m's endpoints. */
function proxy(address: string, node: string, options: { delta?: boolean; ack?: boolean } = {}): LeanAdsClient {
  const client = new LeanAdsClient(root, address, { delta: options.delta ?? false, ack: options.ack ?? true });
  clients.push(client);
  client.subscribe(node, TYPE_URLS.listener);
  client.subscribe(node, TYPE_URLS.cluster);
  client.subscribe(node, TYPE_URLS.route, ['infermesh']);
  client.subscribe(node, TYPE_URLS.endpoint, ['infermesh|m|main']);
  return client;
}

beforeAll(async () => {
  mesh = await Mesh.start([{ kind: 'triton', host: '127.0.0.180', pod: 'm-0', service: 'svc', models: ['m'], version: '1' }], { 'm-policy': policy(100) });
  a = await mesh.startControlPlane('127.0.0.181:0');
  b = await mesh.startControlPlane(`127.0.0.182:${a.xdsPort}`);
  A = `127.0.0.181:${a.xdsPort}`;
  B = `127.0.0.182:${b.xdsPort}`;
  proxy(A, 'web-0.shop');
  proxy(A, 'grpc-0', { delta: true });
  proxy(B, 'web-1.shop');
  proxy(A, 'mover.shop');
  proxy(B, 'mover.shop');
  lagging = proxy(B, 'lagging.edge', { ack: false });
  // Accepts connections and never answers: a replica that hangs.
  silent = net.createServer((socket) => silentSockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.184', resolve));
  fake = await startFakeKube();
}, 30_000);

afterAll(async () => {
  for (const client of clients) client.close();
  await Promise.all([a?.close(), b?.close()]);
  await mesh?.close();
  for (const socket of silentSockets) socket.destroy();
  await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
  await fake?.close();
});

describe('infermesh status across replicas', () => {
  it('lists every proxy of both replicas with its replica, a proxy on both on both', async () => {
    await eventually(async () => {
      const { code, out } = await cli('status', '--server', `${A},${B}`, '-o', 'json');
      expect(code).toBe(0);
      const { proxies, replicas } = JSON.parse(out) as { proxies: ProxyJson[]; replicas: ReplicaJson[] };
      expect(proxies.map((p) => [p.node, p.replica, p.status])).toEqual([
        ['grpc-0', A, 'SYNCED'],
        ['lagging.edge', B, 'STALE'],
        ['mover.shop', A, 'SYNCED'],
        ['mover.shop', B, 'SYNCED'],
        ['web-0.shop', A, 'SYNCED'],
        ['web-1.shop', B, 'SYNCED'],
      ]);
      expect(replicas).toEqual([
        { address: A, reachable: true, proxies: ['grpc-0', 'mover.shop', 'web-0.shop'] },
        { address: B, reachable: true, proxies: ['lagging.edge', 'mover.shop', 'web-1.shop'] },
      ]);
    });
    // The same with --server repeated, and in the table: a REPLICA column and a note on the proxy on both.
    const repeated = await cli('status', '--server', A, '--server', B, '-o', 'yaml');
    expect(repeated.out).toContain(`replica: ${B}`);
    const table = await cli('status', '--server', `${A},${B}`);
    expect(table.code).toBe(0);
    expect(table.out).toContain('replicas: 2 of 2 answered');
    expect(table.out).toMatch(/NODE\s+POD\s+REPLICA\s+CDS/);
    expect(table.out).toMatch(new RegExp(`web-1\\.shop\\s+-\\s+${B.replace(/\./g, '\\.')}\\s`));
    expect(table.out).toContain(`note: mover.shop is connected to 2 replicas (${A}, ${B})`);
  });

  it('calls a model live only when the proxies on every replica ACKed it; each /status counts its own', async () => {
    const pending = await cli('status', '--server', `${A},${B}`, '--model', 'm', '-o', 'json');
    const merged = JSON.parse(pending.out) as ModelJson;
    expect(merged.state).toBe('pending');
    expect(merged.proxies.filter((p) => p.state !== 'live').map((p) => [p.node, p.replica, p.state])).toEqual([['lagging.edge', B, 'pending']]);
    expect(merged.proxies).toHaveLength(6);
    expect(pending.code).toBe(0);
    // Replica A, asked alone, has every proxy of its own live: its /status says so, and that it is per replica.
    const own = (await (await fetch(`http://127.0.0.1:${a.adminPort}/status`)).json()) as { scope: string; replica: string; rollout: { model: string; state: string }[] };
    expect(own.scope).toBe('this replica');
    expect(own.replica).toMatch(/^infermesh@/);
    expect(own.rollout.find((r) => r.model === 'm')?.state).toBe('live');
    const onlyA = JSON.parse((await cli('status', '--server', A, '--model', 'm', '-o', 'json')).out) as ModelJson;
    expect(onlyA.state).toBe('live');

    const table = await cli('status', '--server', `${A},${B}`, '--model', 'm');
    expect(table.out).toContain('model m: PENDING across 2 replicas (5 live, 1 pending, 0 refused, 0 not-used)');

    // The lagging proxy goes away: live everywhere. A change then reaches both replicas' proxies.
    lagging.close();
    await eventually(async () => expect((JSON.parse((await cli('status', '--server', `${A},${B}`, '--model', 'm', '-o', 'json')).out) as ModelJson).state).toBe('live'));
    await mesh.writePolicy('m-policy', policy(200));
    await eventually(async () => {
      const after = await cli('status', '--server', `${A},${B}`, '--model', 'm', '-o', 'json');
      const model = JSON.parse(after.out) as ModelJson;
      expect(model.state).toBe('live');
      expect(after.code).toBe(0);
      const versions = JSON.parse((await cli('status', '--server', `${A},${B}`, '-o', 'json')).out) as { proxies: { node: string; types: { cluster?: { version: string } } }[] };
      // Both replicas hand out the same cluster version for the same selection.
      expect(new Set(versions.proxies.filter((p) => p.node !== 'grpc-0').map((p) => p.types.cluster?.version)).size).toBe(1);
    }, { timeoutMs: 15_000 });
  });

  it('names a replica that does not answer, keeps the others, and exits 3', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.183', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const hanging = `127.0.0.184:${(silent.address() as net.AddressInfo).port}`;
    const started = Date.now();
    const { code, out, err } = await cli('status', '--server', `${A},127.0.0.183:${closed},${hanging}`, '--timeout', '500ms', '-o', 'json');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(code).toBe(3);
    expect(err).toContain(`replica 127.0.0.183:${closed} did not answer: cannot reach`);
    expect(err).toContain(`replica ${hanging} did not answer:`);
    const { proxies, replicas } = JSON.parse(out) as { proxies: ProxyJson[]; replicas: ReplicaJson[] };
    expect(replicas.map((r) => [r.address, r.reachable, r.proxies.length])).toEqual([[A, true, 3], [`127.0.0.183:${closed}`, false, 0], [hanging, false, 0]]);
    expect(replicas[1]?.error).toContain('cannot reach');
    expect(proxies.map((p) => p.replica)).toEqual([A, A, A]);
    // A model's state is unknown, not live, while a replica is missing.
    const model = await cli('status', '--server', `${A},127.0.0.183:${closed}`, '--model', 'm');
    expect(model.code).toBe(3);
    expect(model.out).toContain('model m: UNKNOWN across 2 replicas');
    expect(model.out).toContain(`127.0.0.183:${closed} NOT ANSWERING`);
  });

  it('finds the replicas through the Service\'s EndpointSlices with --kubeconfig', async () => {
    fake.create('EndpointSlice', {
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'infermesh-abcde', namespace: 'infermesh-system', labels: { 'kubernetes.io/service-name': 'infermesh' } },
      addressType: 'IPv4',
      ports: [{ name: 'http-admin', port: 9090 }, { name: 'grpc-xds', port: a.xdsPort }],
      endpoints: [
        { addresses: ['127.0.0.182'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'infermesh-7f9-b', namespace: 'infermesh-system' } },
        { addresses: ['127.0.0.181'], conditions: { ready: true }, targetRef: { kind: 'Pod', name: 'infermesh-7f9-a', namespace: 'infermesh-system' } },
      ],
    });
    // Another Service's slice in the namespace is not a replica.
    fake.create('EndpointSlice', { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'other-x', namespace: 'infermesh-system', labels: { 'kubernetes.io/service-name': 'other' } }, addressType: 'IPv4', ports: [{ name: 'grpc-xds', port: 1 }], endpoints: [{ addresses: ['127.0.0.189'] }] });
    const kubeconfig = await fake.writeKubeconfig();
    const { code, out } = await cli('status', '--kubeconfig', kubeconfig, '-o', 'json');
    expect(code).toBe(0);
    const { proxies, replicas } = JSON.parse(out) as { proxies: ProxyJson[]; replicas: ReplicaJson[] };
    expect(replicas.map((r) => [r.address, r.pod, r.reachable])).toEqual([[A, 'infermesh-7f9-a', true], [B, 'infermesh-7f9-b', true]]);
    expect(new Set(proxies.map((p) => p.node))).toEqual(new Set(['grpc-0', 'mover.shop', 'web-0.shop', 'web-1.shop']));
    const table = await cli('status', '--kubeconfig', kubeconfig, '--model', 'm');
    expect(table.out).toContain(`replicas: 2 of 2 answered: infermesh-7f9-a (${A}), infermesh-7f9-b (${B})`);
    expect(table.out).toMatch(/web-1\.shop\s+-\s+infermesh-7f9-b\s+live/);

    const elsewhere = await cli('status', '--kubeconfig', kubeconfig, '--namespace', 'nowhere');
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.err).toContain('no EndpointSlices for Service nowhere/infermesh');
    const wrongPort = await cli('status', '--kubeconfig', kubeconfig, '--xds-port-name', 'xds');
    expect(wrongPort.err).toContain('has no port named xds (it has: http-admin, grpc-xds)');
    expect((await cli('status', '--kubeconfig', kubeconfig, '--server', A)).code).toBe(2);
  });

  it('does not load the Kubernetes client for --server (the hook that would catch it does, with --kubeconfig)', async () => {
    const listed = await statusProcess('--server', `${A},${B}`, '-o', 'json');
    expect(listed.err).toBe('');
    expect(listed.code).toBe(0);
    expect((JSON.parse(listed.out) as { replicas: ReplicaJson[] }).replicas.map((r) => r.reachable)).toEqual([true, true]);
    const discovered = await statusProcess('--kubeconfig', await fake.writeKubeconfig(), '-o', 'json');
    expect(discovered.err).toContain('KUBERNETES CLIENT IMPORTED');
    expect(discovered.code).toBe(1);
  });
});
