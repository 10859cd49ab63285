import { describe, expect, it } from 'vitest';
import { parseClusters } from '../../src/inspect/clusters.ts';
import { parseConfigDump } from '../../src/inspect/config-dump.ts';
import { parseControlPlaneStatus } from '../../src/inspect/control-plane.ts';
import type { SidecarAnswers } from '../../src/inspect/fetch.ts';
import { baseUrl } from '../../src/inspect/fetch.ts';
import { bucketQuantile, parsePrometheus } from '../../src/inspect/prometheus.ts';
import { formatMs, renderTable } from '../../src/inspect/render.ts';
import { parseServerInfo } from '../../src/inspect/server-info.ts';
import { clusterTraffic, parseStatsJson } from '../../src/inspect/stats.ts';
import { buildView, splitClusterName } from '../../src/inspect/view.ts';
import { watchLoop } from '../../src/inspect/watch.ts';
import { fixtureJson } from './fake-admin.ts';

const T = 'type.googleapis.com/envoy.admin.v3.';

describe('admin format parsers', () => {
  it('server_info: Envoy is recognised by its build version and state, nothing else', () => {
    expect(parseServerInfo(fixtureJson('server_info.json'))).toEqual({ envoyVersion: '1.40.0', state: 'LIVE', uptimeSeconds: 7384, nodeId: 'web-7d9f8c6b5-x2k4q.default', nodeCluster: 'default' });
    expect(parseServerInfo({ version: 'abc/1.33.0-dev/Modified/DEBUG/BoringSSL', state: 'PRE_INITIALIZING' })).toMatchObject({ envoyVersion: '1.33.0-dev', nodeId: '', uptimeSeconds: null });
    for (const body of [undefined, '<html>', {}, { version: '1.0' }, { state: 'LIVE' }, { version: 1, state: 'LIVE' }]) expect(parseServerInfo(body)).toBeUndefined();
  });

  it('clusters: health flags, omitted zero stats, IPv6 and stat names', () => {
    const host = (health: Record<string, unknown>, address = { socket_address: { address: '10.0.0.1', port_value: 80 } }) => ({ address, health_status: health, stats: [{ name: 'rq_total' }] });
    const parsed = parseClusters({
      cluster_statuses: [
        {
          name: 'infermesh|m:v1|a',
          host_statuses: [
            host({ eds_health_status: 'HEALTHY' }),
            host({}),
            host({ eds_health_status: 'UNHEALTHY' }),
            host({ eds_health_status: 'DRAINING' }),
            host({ eds_health_status: 'HEALTHY', pending_dynamic_removal: true }),
            host({ eds_health_status: 'DEGRADED' }),
            host({ eds_health_status: 'HEALTHY', active_hc_timeout: true }),
            host({ eds_health_status: 'HEALTHY', failed_outlier_check: true, failed_active_health_check: true }),
            host({ eds_health_status: 'HEALTHY' }, { socket_address: { address: 'fd00::1', port_value: 8001 } }),
          ],
        },
      ],
    });
    const hosts = parsed?.[0]?.hosts ?? [];
    expect(hosts.map((h) => h.healthy)).toEqual([true, true, false, false, false, false, false, false, true]);
    expect(hosts.map((h) => [h.ejected, h.failingHealthCheck, h.degraded, h.draining])[7]).toEqual([true, true, false, false]);
    expect(hosts.filter((h) => h.draining)).toHaveLength(2);
    expect(hosts[0]?.requests).toBe(0);
    expect(hosts[8]?.address).toBe('[fd00::1]:8001');
    expect(parsed?.[0]?.statNames).toEqual(['infermesh|m:v1|a', 'infermesh|m_v1|a']);
    expect(parseClusters({ cluster_statuses: [] })).toEqual([]);
    expect(parseClusters({})).toEqual([]);
    expect(parseClusters('nope')).toBeUndefined();
    expect(parseClusters({ cluster_statuses: 'x' })).toBeUndefined();
  });

  it('stats JSON: quantiles by position in supported_quantiles, null when nothing was recorded', () => {
    const stats = parseStatsJson({
      stats: [
        { name: 'cluster.infermesh|m_v1|a.upstream_rq_total', value: 4 },
        { name: 'cluster_manager.cds.version_text', value: 'abc' },
        { histograms: { supported_quantiles: [50, 99], computed_quantiles: [{ name: 'cluster.infermesh|m_v1|a.upstream_rq_time', values: [{ interval: null, cumulative: 3 }, { interval: null, cumulative: null }] }] } },
      ],
    });
    expect(stats && clusterTraffic(stats, ['infermesh|m:v1|a', 'infermesh|m_v1|a'])).toEqual({ requests: 4, responses5xx: 0, retries: 0, timeouts: 0, latencyMs: { p50: 3, p99: null } });
    expect(stats && clusterTraffic(stats, ['other'])).toMatchObject({ requests: 0, latencyMs: { p50: null, p99: null } });
    expect(parseStatsJson({ histograms: {} })).toBeUndefined();
  });

  it('Prometheus text: labels with escapes, response classes, buckets', () => {
    const stats = parsePrometheus(
      [
        '# HELP ignored',
        'envoy_cluster_upstream_rq_total{envoy_cluster_name="infermesh|a\\"b|c"} 7 1715000000000',
        'envoy_cluster_upstream_rq_xx{envoy_response_code_class="5",envoy_cluster_name="x"} 2',
        'envoy_cluster_upstream_rq{envoy_response_code="503",envoy_cluster_name="x"} 2',
        'envoy_cluster_upstream_rq_retry{envoy_cluster_name="x",} 1',
        'envoy_server_live 1',
        'not a sample line',
      ].join('\n'),
    );
    expect([...stats.values]).toEqual([['cluster.infermesh|a"b|c.upstream_rq_total', 7], ['cluster.x.upstream_rq_5xx', 2], ['cluster.x.upstream_rq_retry', 1]]);
    expect(bucketQuantile(new Map([[Infinity, 0]]), 0.5)).toBeNull();
    expect(bucketQuantile(new Map([[10, 10], [5, 0], [Infinity, 10]]), 0.5)).toBe(7.5);
    expect(bucketQuantile(new Map([[10, 0], [Infinity, 4]]), 0.99)).toBe(10);
  });

  it('config dump: versions per type, refused updates, types missing from the dump', () => {
    const versions = parseConfigDump({
      configs: [
        { '@type': `${T}ClustersConfigDump`, version_info: '', dynamic_active_clusters: [{ version_info: 'c1', last_updated: '2026-01-01T00:00:05Z' }, { version_info: 'c2', last_updated: '2026-01-01T00:00:05.5Z' }] },
        {
          '@type': `${T}ListenersConfigDump`,
          version_info: 'l2',
          dynamic_listeners: [{ name: 'infermesh-sidecar', active_state: { version_info: 'l1' }, error_state: { details: 'duplicate filter', version_info: 'l3', last_update_attempt: '2026-01-01T00:01:00Z' } }],
        },
      ],
    });
    expect(versions).toEqual({
      cds: { version: 'c2', resources: 2, lastUpdated: '2026-01-01T00:00:05.5Z', rejected: null },
      eds: { version: null, resources: 0, lastUpdated: null, rejected: null },
      lds: { version: 'l2', resources: 1, lastUpdated: null, rejected: { version: 'l3', details: 'duplicate filter' } },
      rds: { version: null, resources: 0, lastUpdated: null, rejected: null },
    });
    expect(parseConfigDump({})).toBeUndefined();
  });

  it('control plane status: the shape of /status, tolerant of what it does not know', () => {
    expect(parseControlPlaneStatus({ ready: false, models: [{ model: 'a', state: 'conflict', problems: ['x', 3] }, { state: 'serving' }] })).toEqual({
      ready: false,
      snapshotVersion: null,
      models: [{ model: 'a', state: 'conflict', problems: ['x'], fingerprint: '', source: null }],
      rollout: [],
    });
    expect(parseControlPlaneStatus({ status: 'ok' })).toBeUndefined();
  });

  it('admin addresses with or without a scheme', () => {
    expect(baseUrl('127.0.0.1:9901')?.href).toBe('http://127.0.0.1:9901/');
    expect(baseUrl('https://envoy.example/admin')?.href).toBe('https://envoy.example/admin/');
    for (const bad of ['ftp://x', 'http://', 'http://x:9901/?a=b', ':::']) expect(baseUrl(bad)).toBeUndefined();
  });
});

describe('the per-model view', () => {
  const NONE = { version: null, resources: 0, lastUpdated: null, rejected: null };
  const answers = (overrides: Partial<SidecarAnswers> = {}): SidecarAnswers => ({
    serverInfo: { envoyVersion: '1.40.0', state: 'LIVE', uptimeSeconds: 1, nodeId: 'n', nodeCluster: 'c' },
    clusters: [],
    stats: { format: 'json', values: new Map(), latencies: new Map() },
    config: { cds: NONE, eds: NONE, lds: NONE, rds: NONE },
    ...overrides,
  });

  it('splits cluster names into model and backend', () => {
    expect(splitClusterName('infermesh|resnet50|stable')).toEqual({ model: 'resnet50', backend: 'stable' });
    expect(splitClusterName('infermesh|org/llama-3.1:8b|main')).toEqual({ model: 'org/llama-3.1:8b', backend: 'main' });
    for (const name of ['infermesh|blackhole', 'infermesh-xds', 'infermesh||x', 'infermesh|m|']) expect(splitClusterName(name)).toBeUndefined();
  });

  it('reports a sidecar that is not LIVE, a refused update and a backend without healthy endpoints', () => {
    const config = answers().config;
    const view = buildView('http://a', answers({
      serverInfo: { envoyVersion: '1.40.0', state: 'PRE_INITIALIZING', uptimeSeconds: null, nodeId: '', nodeCluster: '' },
      clusters: [{ name: 'infermesh|m|b', statNames: ['infermesh|m|b'], hosts: [] }],
      config: { ...config, cds: { version: 'v1', resources: 1, lastUpdated: null, rejected: { version: 'v2', details: 'Proto constraint validation failed' } } },
    }));
    expect(view.issues.map((i) => i.code)).toEqual(['not-live', 'config-rejected']);
    expect(view.models[0]?.issues.map((i) => i.message)).toEqual(['m/b: no healthy endpoint (0 in total)']);
    const table = renderTable(view);
    expect(table).toContain('Config   CDS v1 (refused v2)  EDS none  LDS none  RDS none\n');
    expect(table).toContain('! CDS version v2 refused: Proto constraint validation failed\n');
  });

  it('a model served twice (one ConfigMap serving, one in conflict) is one row with both states', () => {
    const status = { ready: true, snapshotVersion: '3', models: [
      { model: 'm', state: 'serving', problems: [], fingerprint: 'f', source: null },
      { model: 'm', state: 'conflict', problems: ['b/cm[k] claims m, owned by a/cm[k]'], fingerprint: '', source: null },
    ], rollout: [] };
    const view = buildView('http://a', answers({ clusters: [{ name: 'infermesh|m|b', statNames: ['infermesh|m|b'], hosts: [] }] }), { address: 'cp:9090', status });
    expect(view.models).toHaveLength(1);
    expect(view.models[0]?.controlPlane?.states).toEqual(['serving', 'conflict']);
    expect(view.models[0]?.issues.map((i) => i.code)).toEqual(['no-healthy-endpoints']);
    expect(renderTable(view)).toMatch(/^m +b +0\/0 .* serving,conflict$/m);
  });

  it('a rollout waiting for this very sidecar (matched by node id) is flagged; one waiting for others is not', () => {
    const status = { ready: true, snapshotVersion: '9', models: [{ model: 'm', state: 'serving', problems: [], fingerprint: 'f', source: null }], rollout: [
      { model: 'm', state: 'pending', sequence: 9, pending: ['n'], rejected: [] },
    ] };
    const sidecar = answers({ clusters: [{ name: 'infermesh|m|b', statNames: ['infermesh|m|b'], hosts: [] }] });
    const view = buildView('http://a', sidecar, { address: 'cp:9090', status });
    expect(view.models[0]?.controlPlane).toMatchObject({ rollout: 'pending', sidecar: { state: 'pending' } });
    expect(view.models[0]?.issues.map((i) => i.message)).toContain('m: the control plane is waiting for this sidecar (n) to ACK change 9');
    expect(renderTable(view)).toMatch(/ serving\/pending$/m);
    const other = buildView('http://a', sidecar, { address: 'cp:9090', status: { ...status, rollout: [{ model: 'm', state: 'pending', sequence: 9, pending: ['someone-else'], rejected: [] }] } });
    expect(other.models[0]?.controlPlane?.sidecar).toBeNull();
    expect(other.models[0]?.issues.map((i) => i.code)).toEqual(['no-healthy-endpoints']);
  });

  it('an empty sidecar says so', () => {
    expect(renderTable(buildView('http://a', answers()))).toContain('No infermesh clusters on this sidecar.');
  });

  it('formats latencies compactly', () => {
    expect([null, 0.4234, 4.15, 38.24, 1250.4].map(formatMs)).toEqual(['-', '0.42ms', '4.2ms', '38.2ms', '1250ms']);
  });
});

describe('watchLoop', () => {
  it('draws nothing once stopped, and drops a frame still loading when stopped', async () => {
    const stopped = new AbortController();
    stopped.abort();
    const written: string[] = [];
    const base = { intervalMs: 1, write: (text: string) => written.push(text), clear: false, separator: '---\n' };
    expect(await watchLoop({ ...base, frame: async () => 'x', stop: stopped.signal })).toBe(0);

    const controller = new AbortController();
    const frames = await watchLoop({
      ...base,
      frame: () => {
        controller.abort();
        return new Promise<string>(() => {});
      },
      stop: controller.signal,
    });
    expect(frames).toBe(0);
    expect(written).toEqual([]);
  });
});
