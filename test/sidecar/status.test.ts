/**
 * `infermesh status` (CSDS) with real Envoy sidecars on every pinned Envoy, two sidecars each. Sidecars load
 * a model's table and clusters on demand: before its first request a sidecar holds the listener and the
 * scopes only and does not use the model; after it, each Envoy is SYNCED with the versions its own
 * /config_dump reports for every type. `status --model` sees a change pending while the Envoy is frozen
 * (SIGSTOP, so it cannot ACK) and live once it runs again, as does the control plane's rollout; and a
 * listener Envoy cannot bind (its port is taken) is NACKED with Envoy's own error text, which is also what
 * Envoy's /config_dump says.
 */
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/cli/serve.ts';
import { main } from '../../src/cli/main.ts';
import { createTritonClient, tritonInfer } from '../../demo/fake-model-server.ts';
import { EnvoyProcess } from '../support/envoy-process.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { Sidecar, trackFailures } from '../support/sidecar.ts';
import { describeWithTool, envoyBinaries } from '../support/tools.ts';

const policy = (timeout: string) => `model: m\nserver: triton\nbackends: [{ name: main, service: m, port: grpc }]\ntimeout: ${timeout}\n`;
/** Two sidecars per Envoy version, so the status lists several proxies. */
const SIDECARS = ['a', 'b'] as const;

let mesh: Mesh;
const failures = trackFailures();

beforeAll(async () => {
  mesh = await Mesh.start([{ kind: 'triton', host: '127.0.0.86', pod: 'm-0', service: 'm', models: ['m'], version: '1' }], { 'm-policy': policy('30s') });
}, 30_000);

afterAll(async () => {
  await mesh?.close();
});

async function status(server: RunningServer, ...argv: string[]): Promise<{ code: number; json: unknown }> {
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((out += chunk.toString()), done()) });
  const code = await main(['status', '--server', `127.0.0.1:${server.xdsPort}`, '-o', 'json', ...argv], sink, new Writable({ write: (_c, _e, done) => done() }));
  return { code, json: JSON.parse(out) };
}

/** `status --model m` asking one sidecar's own replica: the model's state is that one proxy's. */
function onlyProxy(sidecar: Sidecar, state: string): unknown {
  const address = `127.0.0.1:${sidecar.controlPlane.xdsPort}`;
  return { model: 'm', state, proxies: [{ node: sidecar.envoy.nodeId, replica: address, state }], replicas: [{ address, reachable: true, proxies: [sidecar.envoy.nodeId] }] };
}

interface ProxyJson {
  node: string;
  status: string;
  lastError?: string;
  types: Record<string, { version: string; status: string; resources: number }>;
}

interface DumpEntry {
  version_info?: string;
  error_state?: { details?: string };
  active_state?: { version_info?: string };
  scoped_route_configs?: { name?: string }[];
  name?: string;
}

/** Per type, the versions Envoy's /config_dump says it runs (it shows none for endpoints). */
async function envoyVersions(envoy: EnvoyProcess): Promise<Record<'cluster' | 'listener' | 'route' | 'scopes', string[]>> {
  const dump = await envoy.adminJson<{ configs: Record<string, DumpEntry[] | string>[] }>('/config_dump');
  const pick = (key: string, version: (e: DumpEntry) => string | undefined) =>
    [...new Set(dump.configs.flatMap((c) => (Array.isArray(c[key]) ? c[key] : [])).map(version).filter((v): v is string => !!v))].sort();
  return {
    cluster: pick('dynamic_active_clusters', (e) => e.version_info),
    listener: pick('dynamic_listeners', (e) => e.active_state?.version_info),
    route: pick('dynamic_route_configs', (e) => e.version_info),
    // Envoy dumps SRDS with the response's system_version_info, not per scope: the scope names are checked.
    scopes: dump.configs.flatMap((c) => (Array.isArray(c['dynamic_scoped_route_configs']) ? c['dynamic_scoped_route_configs'] : [])).flatMap((e: DumpEntry) => (e.scoped_route_configs ?? []).map((scope) => scope.name ?? '')),
  };
}

/** One call of model m through the sidecar: its first request makes the Envoy load m's table and cluster. */
async function callModel(sidecar: Sidecar): Promise<void> {
  const client = createTritonClient(sidecar.authority);
  try {
    const answer = await tritonInfer(client, 'm', { metadata: { 'x-model': 'm' }, timeoutMs: 5_000 });
    expect(answer.pod).toBe('m-0');
  } finally {
    client.close();
  }
}

function proxiesOf(json: unknown): ProxyJson[] {
  return (json as { proxies: ProxyJson[] }).proxies;
}

describeWithTool('infermesh status with real Envoy sidecars', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    describe(`Envoy ${binary.version}`, () => {
      const sidecars: Sidecar[] = [];

      beforeAll(async () => {
        await mesh.writePolicy('m-policy', policy('30s'));
        for (const name of SIDECARS) sidecars.push(await Sidecar.start(mesh, binary, `status-${name}-${binary.version}.shop`));
      }, 30_000);

      afterAll(async () => {
        for (const sidecar of sidecars) if (sidecar.envoy.pid !== undefined && sidecar.envoy.running) process.kill(sidecar.envoy.pid, 'SIGCONT');
        await Promise.all(sidecars.map((sidecar) => sidecar.stop(failures.failed)));
      });

      it('lists each Envoy as SYNCED with the versions it runs, holding only the models it called', async () => {
        for (const sidecar of sidecars) {
          // Before any request: the listener and the scopes (SRDS is a wildcard), no table, cluster or endpoint.
          await eventually(async () => {
            const { code, json } = await status(sidecar.controlPlane);
            expect(code).toBe(0);
            const proxies = proxiesOf(json);
            expect(proxies.map((p) => [p.node, p.status])).toEqual([[sidecar.envoy.nodeId, 'SYNCED']]);
            expect(Object.keys(proxies[0]!.types).sort()).toEqual(['listener', 'scopedRoute']);
            expect(proxies[0]!.types['scopedRoute']).toMatchObject({ status: 'SYNCED', resources: 1 });
          });
          expect((await status(sidecar.controlPlane, '--model', 'm')).json).toEqual(onlyProxy(sidecar, 'not-used'));
          expect(sidecar.controlPlane.rollout().find((r) => r.model === 'm')?.proxies).toMatchObject({ relevant: 0, live: 0, pending: [] });
          await callModel(sidecar);
          await eventually(async () => {
            const { code, json } = await status(sidecar.controlPlane);
            expect(code).toBe(0);
            const proxies = proxiesOf(json);
            expect(proxies.map((p) => [p.node, p.status])).toEqual([[sidecar.envoy.nodeId, 'SYNCED']]);
            const types = proxies[0]!.types;
            const runs = await envoyVersions(sidecar.envoy);
            expect(types['endpoint']).toMatchObject({ status: 'SYNCED', resources: 1 });
            for (const type of ['cluster', 'listener', 'route'] as const) {
              expect(types[type]?.status, type).toBe('SYNCED');
              expect(runs[type], `${type} versions in Envoy's config_dump`).toContain(types[type]?.version);
            }
            expect(types['scopedRoute']).toMatchObject({ status: 'SYNCED', resources: 1 });
            expect(runs.scopes).toEqual(['infermesh/m']);
            // m's own table and its one cluster: what the call loaded, nothing more.
            expect([types['route']?.resources, types['cluster']?.resources]).toEqual([1, 1]);
          });
          expect((await status(sidecar.controlPlane, '--model', 'm')).json).toEqual(onlyProxy(sidecar, 'live'));
        }
      });

      it('follows a change from pending (Envoy frozen) to live', async () => {
        for (const sidecar of sidecars) {
          await callModel(sidecar);
          await eventually(async () => expect(((await status(sidecar.controlPlane, '--model', 'm')).json as { proxies: { state: string }[] }).proxies.map((p) => p.state)).toEqual(['live']));
        }
        for (const sidecar of sidecars) process.kill(sidecar.envoy.pid!, 'SIGSTOP');
        try {
          await mesh.writePolicy('m-policy', policy(`${10 + Number(binary.version.split('.')[1])}s`));
          for (const sidecar of sidecars) {
            await eventually(async () => {
              const { code, json } = await status(sidecar.controlPlane, '--model', 'm');
              expect(code).toBe(0);
              expect(json).toEqual(onlyProxy(sidecar, 'pending'));
            });
            // The control plane's own rollout waits for this proxy too: it loaded m.
            const rollout = sidecar.controlPlane.rollout().find((r) => r.model === 'm');
            expect(rollout).toMatchObject({ state: 'pending', proxies: { relevant: 1, live: 0, pending: [sidecar.envoy.nodeId] } });
          }
        } finally {
          for (const sidecar of sidecars) process.kill(sidecar.envoy.pid!, 'SIGCONT');
        }
        for (const sidecar of sidecars) {
          await eventually(async () => expect((await status(sidecar.controlPlane, '--model', 'm')).json).toEqual(onlyProxy(sidecar, 'live')));
          await eventually(() => expect(sidecar.controlPlane.rollout().find((r) => r.model === 'm')).toMatchObject({ state: 'live', proxies: { relevant: 1, live: 1 } }));
        }
      });

      it('shows a listener Envoy cannot bind NACKED with Envoy\'s own error', async () => {
        // The sidecar port is held by another socket without SO_REUSEPORT: Envoy refuses the listener.
        const blocker: Server = createServer();
        await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
        const port = (blocker.address() as { port: number }).port;
        const controlPlane = await mesh.startControlPlane('127.0.0.1:0', { ...mesh.settings, sidecarListenerAddress: '127.0.0.1', sidecarListenerPort: port });
        let envoy: EnvoyProcess | undefined;
        try {
          envoy = await EnvoyProcess.start({ binary, xdsPort: controlPlane.xdsPort, nodeId: `nacked-${binary.version}.edge` });
          const running = envoy;
          const envoyError = await eventually(async () => {
            const dump = await running.adminJson<{ configs: Record<string, DumpEntry[] | string>[] }>('/config_dump?resource=dynamic_listeners');
            const details = dump.configs.map((c) => c as DumpEntry).find((l) => l.error_state?.details)?.error_state?.details;
            expect(details).toBeDefined();
            return details!;
          });
          expect(envoyError).toBe(`cannot bind '127.0.0.1:${port}': Address already in use`);
          await eventually(async () => {
            const { code, json } = await status(controlPlane);
            expect(code).toBe(1);
            const proxies = (json as { proxies: ProxyJson[] }).proxies;
            expect(proxies.map((p) => [p.node, p.status, p.types['listener']?.status])).toEqual([[running.nodeId, 'NACKED', 'NACKED']]);
            expect(proxies[0]!.lastError).toContain(envoyError);
          });
        } finally {
          await envoy?.stop(failures.failed);
          await controlPlane.close();
          await new Promise((resolve) => blocker.close(resolve));
        }
      });
    });
  }
});
