/**
 * Two replicas of `infermesh serve` (separate processes) on one folder; real Envoy sidecars (one per pinned
 * version, delta ADS as the shipped bootstrap) and proxyless gRPC clients (@grpc/grpc-js-xds, gRPC C-core
 * 1.51 from Debian and the current one from PyPI) under steady traffic, all on replica A. Every client knows
 * both replicas: the Envoys' bootstrap lists both as hosts of the xDS cluster (`infermesh bootstrap
 * --xds-address A,B`), the gRPC bootstraps' server_uri is `ipv4:A,B` (pick_first). Replica B starts once
 * everyone runs on A, so which replica a client is on is known, and checked (CSDS of each replica).
 *
 * kill -9 of A: every client reconnects to B; B sends nothing to them (its push counter stays 0: the
 * versions the clients name on reconnect are B's own, so nothing is resent) and the Envoys apply no update
 * (their update_success counters do not move); no request fails, through the sidecars or proxyless. Then a
 * weights change through B reaches every client and the traffic follows it. Pods on 127.0.0.190-191.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EnvoyProcess } from '../support/envoy-process.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh, type PodSpec } from '../support/mesh.ts';
import { ServeProcess } from '../support/serve-process.ts';
import { trackFailures } from '../support/sidecar.ts';
import { debianGrpcio, describeWithTool, envoyBinaries, pypiGrpcio } from '../support/tools.ts';
import { counter, csdsNodes, grpcJsLoad, portOutsideEphemeralRange, pythonLoad, restLoad, type LoadClient, type NodeConfig, type Outcome } from './failover-clients.ts';

const PODS: PodSpec[] = [
  { kind: 'triton', host: '127.0.0.190', pod: 'stable-0', service: 'resnet50-v1', models: ['resnet50', 'resnet50-rest'], version: '1' },
  { kind: 'triton', host: '127.0.0.191', pod: 'canary-0', service: 'resnet50-v2', models: ['resnet50', 'resnet50-rest'], version: '2' },
];
/** resnet50 over gRPC for the proxyless clients, resnet50-rest over HTTP/1.1 for the sidecars; same pods. */
const policy = (model: string, protocol: 'grpc' | 'http', stable: number, canary: number) => `
model: ${model}
server: triton
protocol: ${protocol}
backends:
  - { name: stable, service: resnet50-v1, port: ${protocol}, version: "1", weight: ${stable} }
  - { name: canary, service: resnet50-v2, port: ${protocol}, version: "2", weight: ${canary} }
`;
const policies = (stable: number, canary: number) => ({
  'resnet50-policy': policy('resnet50', 'grpc', stable, canary),
  'resnet50-rest-policy': policy('resnet50-rest', 'http', stable, canary),
});

const failures = trackFailures();
const summary = (outcomes: Outcome[]) => outcomes.slice(0, 5).map((o) => `${new Date(o.at).toISOString()} ${o.what}`);
const tail = (client: LoadClient, n: number) => client.outcomes.slice(-n);

async function envoyStats(envoy: EnvoyProcess, filter: string): Promise<Record<string, number>> {
  const text = await envoy.admin(`/stats?filter=${encodeURIComponent(filter)}`);
  return Object.fromEntries(text.trim().split('\n').filter(Boolean).map((line) => {
    const [name, value] = line.split(': ');
    return [name!, Number(value)];
  }));
}

/**
 * The Envoy counters that move when it applies (or rejects) a configuration pushed to it: LDS, SRDS, RDS,
 * on-demand CDS, EDS. Not the static xDS cluster's own: its update_success counts DNS re-resolutions (5 s).
 */
async function envoyUpdates(envoy: EnvoyProcess): Promise<Record<string, number>> {
  const stats = await envoyStats(envoy, '\\.update_(success|rejected)$');
  return Object.fromEntries(Object.entries(stats).filter(([name]) => !name.startsWith('cluster.infermesh-xds.') && !name.startsWith('cluster.envoy-admin.')));
}

async function served(envoy: EnvoyProcess): Promise<number> {
  return (await envoyStats(envoy, '^http\\.infermesh\\.downstream_rq_completed$'))['http.infermesh.downstream_rq_completed'] ?? 0;
}

describeWithTool('replica failover', envoyBinaries(), (binaries) => {
  describeWithTool('with gRPC C-core (Debian python3-grpcio)', debianGrpcio(), (debian) => {
    describeWithTool('and gRPC C-core (grpcio from PyPI)', pypiGrpcio(), (pypi) => {
      let mesh: Mesh;
      let replicaA: ServeProcess;
      let replicaB: ServeProcess | undefined;
      let portB: number;
      let sidecarPort: number;
      const envoys: EnvoyProcess[] = [];
      const clients: LoadClient[] = [];
      const sidecarLoad = () => clients[0]!;
      const proxyless = () => clients.slice(1);
      const nodeIds: string[] = [];
      let onA = new Map<string, NodeConfig>();
      let updatesBefore: Record<string, number>[] = [];
      let servedBefore: number[] = [];

      const serveArgs = (xds: string) => ['--xds-address', xds, '--sidecar-port', String(sidecarPort), '--sidecar-address', '127.0.0.1'];

      beforeAll(async () => {
        mesh = await Mesh.start(PODS, policies(100, 0));
        sidecarPort = await portOutsideEphemeralRange();
        portB = await portOutsideEphemeralRange();
        replicaA = await ServeProcess.start(mesh.dir, serveArgs('127.0.0.1:0'));
        for (const binary of binaries) {
          const nodeId = `failover-envoy-${binary.version}`;
          // Both replicas are hosts of the xDS cluster; B is not up yet, so each Envoy ends up on A.
          envoys.push(await EnvoyProcess.start({ binary, xdsPort: replicaA.xdsPort, moreXdsPorts: [portB], nodeId }));
          nodeIds.push(nodeId);
        }
        // /ready is LIVE before the pushed listener is bound: wait for it in every Envoy, then count every call.
        await eventually(async () => {
          for (const envoy of envoys) expect(await envoyStats(envoy, '^listener_manager\\.total_listeners_active$')).toEqual({ 'listener_manager.total_listeners_active': 2 });
        }, { intervalMs: 100 });
        const ports = [replicaA.xdsPort, portB];
        clients.push(restLoad('sidecars', sidecarPort, 'resnet50-rest'));
        clients.push(grpcJsLoad('grpc-js-xds', 'failover-grpc-js', ports, 'resnet50'));
        clients.push(pythonLoad(`C-core ${debian.version}`, debian.python, `failover-grpc-core-${debian.version}`, ports, 'resnet50', mesh.dir));
        clients.push(pythonLoad(`C-core ${pypi.version}`, pypi.python, `failover-grpc-core-${pypi.version}`, ports, 'resnet50', mesh.dir));
        nodeIds.push('failover-grpc-js', `failover-grpc-core-${debian.version}`, `failover-grpc-core-${pypi.version}`);
      }, 40_000);

      afterAll(async () => {
        await Promise.all(clients.map((client) => client.stop()));
        for (const replica of [replicaA, replicaB]) replica?.kill();
        await Promise.all([replicaA?.exited, replicaB?.exited]);
        await Promise.all(envoys.map((envoy) => envoy.stop(failures.failed)));
        await mesh?.close();
      }, 30_000);

      it('runs every client on replica A under steady traffic, and starts replica B beside it', async () => {
        await eventually(async () => {
          for (const client of clients) expect(tail(client, 5).map((o) => o.what), client.name).toEqual(Array(5).fill('stable-0'));
          onA = await csdsNodes(replicaA.xdsPort);
          expect([...onA.keys()].sort()).toEqual([...nodeIds].sort());
        }, { timeoutMs: 20_000, intervalMs: 200 });
        replicaB = await ServeProcess.start(mesh.dir, serveArgs(`127.0.0.1:${portB}`));
        await eventually(async () => expect((await fetch(`http://127.0.0.1:${replicaB!.adminPort}/readyz`)).status).toBe(200));
        expect((await csdsNodes(portB)).size).toBe(0);
        expect(await counter(replicaB.adminPort, 'infermesh_xds_pushes_total')).toBe(0);
        // What each client runs, as A saw it, with every resource ACKed.
        onA = await csdsNodes(replicaA.xdsPort);
        for (const [node, config] of onA) {
          expect(config.resources.length, node).toBeGreaterThan(0);
          expect(config.resources.filter((r) => !r.endsWith(' ACKED')), node).toEqual([]);
        }
        updatesBefore = await Promise.all(envoys.map(envoyUpdates));
        servedBefore = await Promise.all(envoys.map(served));
      }, 30_000);

      it('kill -9 of replica A: every client resumes on B, which resends nothing', async () => {
        const killedAt = Date.now();
        replicaA.kill();
        await replicaA.exited;
        const seen = new Map<string, number>();
        let onB = new Map<string, NodeConfig>();
        await eventually(async () => {
          onB = await csdsNodes(portB);
          for (const node of onB.keys()) if (!seen.has(node)) seen.set(node, Date.now() - killedAt);
          expect([...onB.keys()].sort()).toEqual([...nodeIds].sort());
          // Each client names, and B counts as ACKed, exactly what it ran on A.
          for (const node of nodeIds) expect(onB.get(node)?.resources, node).toEqual(onA.get(node)?.resources);
        }, { timeoutMs: 20_000, intervalMs: 100 });
        console.log(`on B after (ms, CSDS polled every 100): ${JSON.stringify(Object.fromEntries(seen))}`);
        // Until the last Envoy is back, a share of the sidecar calls goes through an Envoy with no control plane.
        const lastEnvoyBack = killedAt + Math.max(...envoys.map((envoy) => seen.get(envoy.nodeId)!));
        const duringOutage = sidecarLoad().outcomes.filter((o) => o.at > killedAt && o.at < lastEnvoyBack);
        console.log(`sidecar calls between the kill and the last Envoy back on B: ${duringOutage.length}`);
        expect(duringOutage.length).toBeGreaterThan(0);
        // A resend would be written while B handles the reconnecting requests; leave time for a late one.
        await new Promise((resolve) => setTimeout(resolve, 500));
        // The resend measure: every response B ever sent went to a client that moved from A.
        expect(await counter(replicaB!.adminPort, 'infermesh_xds_pushes_total')).toBe(0);
        expect(await counter(replicaB!.adminPort, 'infermesh_xds_pushed_resource_bytes_total')).toBe(0);
        expect(await counter(replicaB!.adminPort, 'infermesh_xds_connected_streams')).toBe(nodeIds.length);
        // The Envoys' own view: no configuration update applied or rejected since A died. (connected_state is 1
        // from the moment Envoy opens a stream, before it connects: only a 0 would say something here.)
        for (const [i, envoy] of envoys.entries()) {
          expect(await envoy.admin('/stats?filter=^control_plane\\.connected_state$'), envoy.nodeId).toContain('control_plane.connected_state: 1');
          expect(await envoyUpdates(envoy), envoy.nodeId).toEqual(updatesBefore[i]);
        }
        // Traffic went on meanwhile, through every sidecar and every proxyless client.
        await eventually(() => {
          for (const client of clients) expect(client.outcomes.filter((o) => o.at > killedAt && o.ok).length, client.name).toBeGreaterThan(20);
        }, { timeoutMs: 10_000 });
        const servedSince = await Promise.all(envoys.map(async (envoy, i) => (await served(envoy)) - servedBefore[i]!));
        console.log(`sidecar requests served per Envoy since the kill: ${servedSince.join(', ')}`);
        for (const [i, count] of servedSince.entries()) expect(count, `requests ${envoys[i]!.nodeId} served since the kill`).toBeGreaterThan(0);
      }, 30_000);

      it('a weights change through B reaches every client, and the traffic follows it', async () => {
        for (const [name, text] of Object.entries(policies(0, 100))) await mesh.writePolicy(name, text);
        await eventually(() => {
          for (const client of clients) expect(tail(client, 10).map((o) => o.what), client.name).toEqual(Array(10).fill('canary-0'));
        }, { timeoutMs: 15_000 });
        // The measure above can move: this change was pushed by B.
        expect(await counter(replicaB!.adminPort, 'infermesh_xds_pushes_total')).toBeGreaterThan(0);
      }, 30_000);

      it('failed no request through the sidecars, nor proxyless', async () => {
        await Promise.all(clients.map((client) => client.stop()));
        console.log(`calls: ${clients.map((client) => `${client.name} ${client.outcomes.length}`).join(', ')}`);
        expect(sidecarLoad().outcomes.length, 'sidecar requests').toBeGreaterThan(200);
        expect(summary(sidecarLoad().outcomes.filter((o) => !o.ok)), 'failed sidecar requests').toEqual([]);
        for (const client of proxyless()) {
          const first = client.outcomes.findIndex((o) => o.ok);
          expect(first, `${client.name} never answered`).toBeGreaterThanOrEqual(0);
          expect(summary(client.outcomes.slice(first).filter((o) => !o.ok)), `failed ${client.name} calls`).toEqual([]);
        }
      }, 20_000);
    });
  });
});
