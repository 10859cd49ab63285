import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createAdminServer, listenHttp } from '../../src/admin/server.ts';
import { Controller } from '../../src/controller/controller.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import type { InspectView } from '../../src/inspect/view.ts';
import { closedPort, envoyRoutes, fixture, fixtureJson } from './fake-admin.ts';
import { fake, rows, run } from './harness.ts';

const controlPlane = () => fake({ '/status': { type: 'application/json', body: fixture('status.json') } });

describe('infermesh inspect against an Envoy admin API', () => {
  it('prints a row per model and backend: endpoints, ejections, health checks, traffic, latency, config versions', async () => {
    const envoy = await fake(envoyRoutes());
    const { code, out, err } = await run(['--admin', envoy.url]);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toContain(`Sidecar  node web-7d9f8c6b5-x2k4q.default  Envoy 1.40.0  LIVE  up 2h3m4s  admin ${envoy.url}\n`);
    expect(out).toContain('Config   CDS 9f1c2a7be04d6e31  EDS e3f1a2b4c5d6e7f8  LDS 5c6d7e8f90a1b2c3  RDS b7e4c1d09a2f3e65\n');
    expect(rows(out)).toEqual([
      ['MODEL', 'BACKEND', 'ENDPOINTS', 'EJECTED', 'HC-FAIL', 'REQUESTS', '5XX', 'RETRIES', 'TIMEOUTS', 'P50', 'P99'],
      ['bert', 'main', '1/2', '0', '1', '930', '3', '1', '0', '12.5ms', '95.3ms'],
      ['resnet50', 'canary', '1/1', '0', '0', '170', '0', '0', '0', '5.2ms', '41ms'],
      ['resnet50', 'stable', '2/3', '1', '0', '1520', '12', '8', '2', '4.2ms', '38.2ms'],
    ]);
    // Columns line up: the counts are right-aligned under their headers.
    const table = out.split('\n').filter((line) => /^(MODEL|-+ |bert|resnet50) /.test(line));
    const end = (table[0]?.indexOf('ENDPOINTS') ?? 0) + 'ENDPOINTS'.length;
    expect(table.map((line) => line.slice(end - 3, end))).toEqual(['NTS', '---', '1/2', '1/1', '2/3']);
    expect(table.map((line) => line[end])).toEqual([' ', ' ', ' ', ' ', ' ']);
    expect(out).toContain('! resnet50/stable: 1 of 3 endpoint(s) ejected by outlier detection\n');
    expect(out).toContain('! bert/main: 1 of 2 endpoint(s) failing active health checks\n');
    expect(out).not.toContain('blackhole');
    expect(out).not.toContain('infermesh-xds');
    // JSON stats restricted to infermesh's clusters; the config dump with endpoints.
    expect(envoy.requests).toEqual(['/server_info', '/clusters?format=json', '/stats?format=json&filter=%5Ecluster%5C.infermesh%5C%7C', '/config_dump?include_eds']);
  });

  it('-o json gives the documented fields; -o yaml the same document', async () => {
    const envoy = await fake(envoyRoutes());
    const json = await run(['--admin', envoy.url.replace('http://', ''), '-o', 'json']);
    expect(json.code).toBe(0);
    const view = JSON.parse(json.out) as InspectView;
    expect(Object.keys(view)).toEqual(['admin', 'sidecar', 'configVersions', 'controlPlane', 'models', 'issues']);
    expect(view.admin).toBe(envoy.url);
    expect(view.sidecar).toEqual({ nodeId: 'web-7d9f8c6b5-x2k4q.default', nodeCluster: 'default', envoyVersion: '1.40.0', state: 'LIVE', uptimeSeconds: 7384, statsFormat: 'json', onDemand: false });
    expect(view.configVersions).toEqual({
      cds: { version: '9f1c2a7be04d6e31', resources: 4, lastUpdated: '2026-05-04T09:42:17.093Z', rejected: null },
      eds: { version: 'e3f1a2b4c5d6e7f8', resources: 4, lastUpdated: '2026-05-04T10:03:55.771Z', rejected: null },
      lds: { version: '5c6d7e8f90a1b2c3', resources: 1, lastUpdated: '2026-05-04T08:11:02.418Z', rejected: null },
      rds: { version: 'b7e4c1d09a2f3e65', resources: 1, lastUpdated: '2026-05-04T09:42:17.093Z', rejected: null },
    });
    expect(view.controlPlane).toBeNull();
    expect(view.models.map((m) => [m.model, m.onSidecar, m.controlPlane, m.backends.map((b) => b.cluster)])).toEqual([
      ['bert', true, null, ['infermesh|bert|main']],
      ['resnet50', true, null, ['infermesh|resnet50|canary', 'infermesh|resnet50|stable']],
    ]);
    const stable = view.models[1]?.backends[1];
    expect(stable).toEqual({
      backend: 'stable',
      cluster: 'infermesh|resnet50|stable',
      endpoints: { total: 3, healthy: 2, ejected: 1, failingHealthChecks: 0, degraded: 0, draining: 0 },
      requests: 1520,
      responses5xx: 12,
      retries: 8,
      timeouts: 2,
      latencyMs: { p50: 4.15, p99: 38.2 },
      hosts: [
        { address: '10.0.1.11:8001', health: 'healthy', requests: 760, activeRequests: 1 },
        { address: '10.0.1.12:8001', health: 'healthy', requests: 742, activeRequests: 0 },
        { address: '10.0.1.13:8001', health: 'ejected', requests: 18, activeRequests: 0 },
      ],
    });
    // A 5xx counter Envoy never created reads as 0.
    expect(view.models[1]?.backends[0]?.responses5xx).toBe(0);
    expect(view.models[1]?.issues).toEqual([{ code: 'endpoints-ejected', message: 'resnet50/stable: 1 of 3 endpoint(s) ejected by outlier detection' }]);
    expect(view.issues).toEqual([]);

    const yaml = await run(['--admin', envoy.url, '-o', 'yaml']);
    expect(yaml.code).toBe(0);
    expect(parseYaml(yaml.out)).toEqual(view);
  });

  it('--model shows one model with each endpoint', async () => {
    const envoy = await fake(envoyRoutes());
    const { code, out } = await run(['--admin', envoy.url, '--model', 'resnet50']);
    expect(code).toBe(0);
    expect(rows(out).map((row) => row.slice(0, 3))).toEqual([
      ['MODEL', 'BACKEND', 'ENDPOINTS'],
      ['resnet50', 'canary', '1/1'],
      ['resnet50', 'stable', '2/3'],
    ]);
    expect(out).toMatch(/^stable +10\.0\.1\.13:8001 +ejected +18 +0$/m);
    expect(out).not.toContain('bert');
  });

  it('--model for a model the sidecar lacks is an error listing the ones it has', async () => {
    const envoy = await fake(envoyRoutes());
    const { code, out, err } = await run(['--admin', envoy.url, '--model', 'resnet']);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toBe(`infermesh inspect: the sidecar at ${envoy.url} has no clusters for model "resnet"; it has: bert, resnet50. Did you mean resnet50?\n`);
  });

  it('falls back to /stats/prometheus when the JSON stats are unavailable, estimating latency from the buckets', async () => {
    const envoy = await fake({ ...envoyRoutes(), '/stats': { status: 404, body: 'invalid path\n' } });
    const { code, out } = await run(['--admin', envoy.url, '-o', 'json']);
    expect(code).toBe(0);
    expect(envoy.requests).toContain('/stats/prometheus');
    const view = JSON.parse(out) as InspectView;
    expect(view.sidecar.statsFormat).toBe('prometheus');
    const traffic = view.models.flatMap((m) => m.backends.map((b) => [b.cluster, b.requests, b.responses5xx, b.retries, b.timeouts]));
    expect(traffic).toEqual([
      ['infermesh|bert|main', 930, 3, 1, 0],
      ['infermesh|resnet50|canary', 170, 0, 0, 0],
      ['infermesh|resnet50|stable', 1520, 12, 8, 2],
    ]);
    // stable: 1520 requests, 790 in (1ms, 5ms] -> p50 = 1 + 4 * 750/790; 60 in (25ms, 50ms] -> p99 = 25 + 25 * 54.8/60.
    const stable = view.models[1]?.backends[1]?.latencyMs;
    expect(stable?.p50).toBeCloseTo(4.797, 3);
    expect(stable?.p99).toBeCloseTo(47.833, 3);
    const table = await run(['--admin', envoy.url]);
    expect(table.out).toContain('(stats from /stats/prometheus; latency estimated from buckets)');
    expect(rows(table.out)[3]?.slice(-2)).toEqual(['4.8ms', '47.8ms']);
  });

  it('--server joins the control plane status: its snapshot, each model state, and models the sidecar lacks', async () => {
    const envoy = await fake(envoyRoutes());
    const cp = await controlPlane();
    const server = `127.0.0.1:${cp.port}`;
    const { code, out } = await run(['--admin', envoy.url, '--server', server]);
    expect(code).toBe(0);
    expect(out).toContain(`Control  ${server}  ready  snapshot 7\n`);
    expect(rows(out).map((row) => [row[0], row[1], row[2], row.at(-1)])).toEqual([
      ['MODEL', 'BACKEND', 'ENDPOINTS', 'CONTROL-PLANE'],
      ['bert', 'main', '1/2', 'serving/live'],
      ['gpt2', '-', '-', 'rejected'],
      ['llama', '-', '-', 'serving/degraded'],
      ['resnet50', 'canary', '1/1', 'serving/pending'],
      ['resnet50', 'stable', '2/3', 'serving/pending'],
    ]);
    expect(out).toContain('! llama: served by the control plane (serving) but not on the sidecar: not yet received, or refused\n');
    // The control plane's rollout names this sidecar's node among the proxies that NACKed llama.
    expect(out).toContain('! llama: this sidecar (web-7d9f8c6b5-x2k4q.default) refused CDS version 3c1d9a0e7b2f4586: Error adding/updating cluster(s) infermesh|llama|main:');
    // resnet50's rollout waits for another proxy, not this one.
    expect(out).not.toContain('! resnet50: the control plane is waiting');
    expect(out).not.toContain('! gpt2');
    expect(out).toContain('gpt2 (rejected): nlp/gpt2-policy[policy.yaml] backends[0].weight: must be an integer >= 0, got -5');

    const view = JSON.parse((await run(['--admin', envoy.url, '--server', `http://${server}`, '-o', 'json'])).out) as InspectView;
    expect(view.controlPlane).toEqual({ address: server, ready: true, snapshotVersion: '7' });
    const llama = view.models.find((m) => m.model === 'llama');
    expect(llama).toMatchObject({
      onSidecar: false,
      backends: [],
      controlPlane: { states: ['serving'], sources: ['nlp/llama-policy[policy.yaml]'], rollout: 'degraded', sidecar: { state: 'rejected', type: 'CDS', version: '3c1d9a0e7b2f4586' } },
    });
    expect(llama?.issues.map((i) => i.code)).toEqual(['missing-on-sidecar', 'rejected-by-sidecar']);

    const missing = await run(['--admin', envoy.url, '--server', server, '--model', 'llama']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('The control plane serves it, and this sidecar refused it (CDS version 3c1d9a0e7b2f4586): Error adding/updating cluster(s) infermesh|llama|main');
  });

  it('on a sidecar that routes by scopes, a served model it has not called is not missing', async () => {
    const routes = envoyRoutes();
    const dump = fixtureJson('config_dump.json') as { configs: unknown[] };
    const scopes = { '@type': 'type.googleapis.com/envoy.admin.v3.ScopedRoutesConfigDump', dynamic_scoped_route_configs: [{ name: 'infermesh-scopes', scoped_route_configs: [{ name: 'infermesh/llama' }], version_info: '7' }] };
    routes['/config_dump'] = { type: 'application/json', body: JSON.stringify({ configs: [...dump.configs, scopes] }) };
    const envoy = await fake(routes);
    const cp = await controlPlane();
    const { code, out } = await run(['--admin', envoy.url, '--server', `127.0.0.1:${cp.port}`, '-o', 'json']);
    expect(code).toBe(0);
    const view = JSON.parse(out) as InspectView;
    expect(view.sidecar.onDemand).toBe(true);
    // llama is served and not on this sidecar: with on-demand loading that alone is no finding; its NACK still is.
    expect(view.models.find((m) => m.model === 'llama')?.issues.map((i) => i.code)).toEqual(['rejected-by-sidecar']);
    expect(view.models.flatMap((m) => m.issues.map((i) => i.code))).not.toContain('missing-on-sidecar');
  });

  it("reads the real admin server's /status (the example's models match the sidecar's clusters)", async () => {
    const metrics = createMetrics();
    const example = path.resolve(import.meta.dirname, '../../examples/basic');
    const source = { read: () => readFolder(example) };
    const controller = new Controller({ source, store: new SnapshotStore(), codec: new ResourceCodec(loadEnvoyProtos()), settings: DEFAULT_SETTINGS, logger: silentLogger(), metrics });
    await controller.start();
    const admin = createAdminServer({ registry: metrics.registry, status: () => controller.status() });
    const { port } = await listenHttp(admin, '127.0.0.1:0');
    try {
      const envoy = await fake(envoyRoutes());
      const { code, out } = await run(['--admin', envoy.url, '--server', `127.0.0.1:${port}`, '-o', 'json']);
      expect(code).toBe(0);
      const view = JSON.parse(out) as InspectView;
      expect(view.controlPlane).toEqual({ address: `127.0.0.1:${port}`, ready: true, snapshotVersion: controller.status().snapshotVersion });
      expect(view.models.map((m) => [m.model, m.onSidecar, m.controlPlane?.states])).toEqual([['bert', true, ['serving']], ['resnet50', true, ['serving']]]);
      expect(view.models.flatMap((m) => m.issues.map((i) => i.code))).not.toContain('missing-on-sidecar');
      expect(view.models[0]?.controlPlane?.sources[0]).toMatch(/^[a-z0-9-]+\/[a-z0-9-]+\[.+\]$/);
    } finally {
      controller.stop();
      admin.closeAllConnections();
      await new Promise((resolve) => admin.close(resolve));
    }
  });

  it('flags a model the sidecar has and the control plane does not know', async () => {
    const envoy = await fake(envoyRoutes());
    const cp = await fake({ '/status': { type: 'application/json', body: JSON.stringify({ ready: true, snapshotVersion: '8', models: [{ model: 'bert', state: 'serving', problems: [], fingerprint: 'x' }] }) } });
    const view = JSON.parse((await run(['--admin', envoy.url, '--server', `127.0.0.1:${cp.port}`, '-o', 'json'])).out) as InspectView;
    expect(view.models.find((m) => m.model === 'resnet50')?.issues.map((i) => i.code)).toEqual(['endpoints-ejected', 'unknown-to-control-plane']);
  });
});

describe('infermesh inspect errors', () => {
  it('names the URL and the port-forward when nothing listens', async () => {
    const port = await closedPort();
    const { code, out, err } = await run(['--admin', `http://127.0.0.1:${port}`]);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toContain(`cannot reach http://127.0.0.1:${port}/server_info: connection refused;`);
    expect(err).toContain('kubectl port-forward pod/NAME 9901');
  });

  it('says when the server answers but is not Envoy', async () => {
    const web = await fake({ '/server_info': { type: 'text/html', body: '<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>' } });
    const { code, err } = await run(['--admin', web.url]);
    expect(code).toBe(1);
    expect(err).toBe(`infermesh inspect: ${web.url} answered but is not an Envoy admin API (no server_info state/version)\n`);
  });

  it('points at --server when given infermesh\'s own admin address', async () => {
    const cp = await fake({ '/status': { body: '{}' }, '/server_info': { status: 404, type: 'application/json', body: '{"error": "no such path /server_info; try /metrics, /healthz, /readyz, /status"}' } });
    const { code, err } = await run(['--admin', cp.url]);
    expect(code).toBe(1);
    expect(err).toContain("is not an Envoy admin API (no server_info state/version); this looks like infermesh's own admin address: pass it as --server");
  });

  it('reports an HTTP error with its status and body', async () => {
    const envoy = await fake({ ...envoyRoutes(), '/clusters': { status: 500, body: 'cluster manager not initialized\n' } });
    const { code, err } = await run(['--admin', envoy.url]);
    expect(code).toBe(1);
    expect(err).toBe(`infermesh inspect: ${envoy.url}/clusters?format=json answered HTTP 500: cluster manager not initialized\n`);
  });

  it('gives up on a request after --timeout', async () => {
    const stuck = await fake({ '/server_info': 'hang' });
    const { code, err } = await run(['--admin', stuck.url, '--timeout', '100ms']);
    expect(code).toBe(1);
    expect(err).toContain(`cannot reach ${stuck.url}/server_info: no answer within 0.1s`);
  });

  it('reports an unreachable control plane with its own hint', async () => {
    const envoy = await fake(envoyRoutes());
    const port = await closedPort();
    const { code, err } = await run(['--admin', envoy.url, '--server', `127.0.0.1:${port}`]);
    expect(code).toBe(1);
    expect(err).toContain(`cannot reach http://127.0.0.1:${port}/status: connection refused; is infermesh serve's admin address forwarded?`);
  });

  it.each([
    [[], '--admin is required'],
    [['--admin', 'ftp://x'], 'is not an http(s) URL'],
    [['--admin', 'h:1', '-o', 'jsn'], '-o "jsn" is not an output format; valid: table, json, yaml (did you mean json?)'],
    [['--admin', 'h:1', '--interval', '1s'], '--interval applies only with --watch'],
    [['--admin', 'h:1', '--watch', '--interval', 'soon'], '--interval: "soon" is not a duration'],
    [['--admin', 'h:1', '--server', 'localhost'], '--server "localhost" is not HOST:PORT'],
    [['--admin', 'h:1', '--nope'], "Unknown option '--nope'"],
  ])('usage error %j exits 2', async (argv, message) => {
    const { code, out, err } = await run(argv);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain(message);
    expect(err).toContain('Usage: infermesh inspect');
  });
});
