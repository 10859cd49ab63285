/**
 * manifests/monitoring as a kustomize Component: an overlay that adds it to the base builds with the
 * pinned kustomize, and carries the rules, the monitors and the dashboards, pointed at what the base and
 * `infermesh inject` really create (Service labels and port, the sidecar's label, port and stats path).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { STATUS_PORT, STATUS_PORT_NAME, XDS_CLIENT_LABEL } from '../../src/inject/options.ts';
import { REPO, describeWithTool, kustomizeBinary } from '../support/tools.ts';

const run = promisify(execFile);
const MANIFESTS = path.join(REPO, 'manifests');

interface Built {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

describeWithTool('kustomize: an overlay with components: [monitoring]', kustomizeBinary(), (kustomize) => {
  const overlay = mkdtempSync(path.join(tmpdir(), 'infermesh-overlay-'));
  afterAll(() => rmSync(overlay, { recursive: true, force: true }));

  async function build(): Promise<Built[]> {
    const relative = (dir: string) => path.relative(overlay, path.join(MANIFESTS, dir));
    writeFileSync(path.join(overlay, 'kustomization.yaml'), `resources: [${relative('base')}]\ncomponents: [${relative('monitoring')}]\n`);
    const { stdout, stderr } = await run(kustomize, ['build', overlay], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
    expect(stderr).toBe('');
    return parseAllDocuments(stdout).map((doc) => doc.toJS() as Built);
  }

  function one(objects: Built[], kind: string, name: string): Built {
    const found = objects.filter((o) => o.kind === kind && o.metadata.name === name);
    expect(found, `${kind}/${name}`).toHaveLength(1);
    return found[0]!;
  }

  it('builds: the base plus the PrometheusRule, ServiceMonitor, PodMonitor and dashboards ConfigMap', { timeout: 60_000 }, async () => {
    const objects = await build();
    const plain = parse(readFileSync(path.join(MANIFESTS, 'monitoring', 'prometheus-rules.yaml'), 'utf8')) as { groups: unknown };
    const rule = one(objects, 'PrometheusRule', 'infermesh');
    expect(rule.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(rule.spec?.['groups']).toEqual(plain.groups);

    const service = one(objects, 'Service', 'infermesh');
    const monitor = one(objects, 'ServiceMonitor', 'infermesh');
    const monitorSpec = monitor.spec as { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: { port: string; path: string; relabelings: { targetLabel: string; replacement: string }[] }[] };
    for (const [key, value] of Object.entries(monitorSpec.selector.matchLabels)) expect(service.metadata.labels?.[key], key).toBe(value);
    expect(monitorSpec.namespaceSelector.matchNames).toEqual([service.metadata.namespace]);
    const servicePorts = (service.spec?.['ports'] as { name: string }[]).map((p) => p.name);
    expect(servicePorts).toContain(monitorSpec.endpoints[0]?.port);
    expect(monitorSpec.endpoints[0]?.path).toBe('/metrics');
    // The alerts on the control plane name job="infermesh".
    expect(monitorSpec.endpoints[0]?.relabelings).toContainEqual(expect.objectContaining({ targetLabel: 'job', replacement: 'infermesh' }));

    const pods = one(objects, 'PodMonitor', 'infermesh-sidecars');
    const podSpec = pods.spec as { selector: { matchLabels: Record<string, string> }; namespaceSelector: { any: boolean }; podMetricsEndpoints: { port: string; path: string }[] };
    expect(podSpec.selector.matchLabels).toEqual({ [XDS_CLIENT_LABEL]: 'true' });
    expect(podSpec.namespaceSelector.any).toBe(true);
    expect(podSpec.podMetricsEndpoints[0]?.port).toBe(STATUS_PORT_NAME);
    expect(podSpec.podMetricsEndpoints[0]?.path).toBe('/stats/prometheus');
    // ... which the sidecar's status listener (the one on STATUS_PORT) forwards to Envoy's admin interface.
    const bootstrap = readFileSync(path.join(REPO, 'envoy', 'bootstrap.yaml'), 'utf8');
    expect(bootstrap).toContain(`port_value: ${STATUS_PORT}`);
    expect(bootstrap).toMatch(/path: \/stats\/prometheus/);

    const dashboards = one(objects, 'ConfigMap', 'infermesh-dashboards');
    expect(dashboards.metadata.labels?.['grafana_dashboard']).toBe('1');
    expect(Object.keys(dashboards.data ?? {}).sort()).toEqual(['infermesh-model.json', 'infermesh-overview.json']);
    for (const [file, text] of Object.entries(dashboards.data ?? {})) expect(() => JSON.parse(text), file).not.toThrow();

    for (const object of [rule, monitor, pods, dashboards]) expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe('infermesh-system');
  });
});
