/** zoneFailover in `explain` and `render` (--show-policies with provenance, --zone for the endpoints a zone's proxies get). */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Explanation } from '../../src/explain/explain.ts';
import { runCli as run } from '../support/cli-run.ts';

const WORLD = `apiVersion: v1
kind: ConfigMap
metadata: { name: ml-defaults, namespace: ml, labels: { infermesh.io/defaults: "true" } }
data:
  defaults.yaml: |
    zoneFailover: { enabled: true }
---
apiVersion: v1
kind: ConfigMap
metadata: { name: zoned-policy, namespace: ml, labels: { infermesh.io/policy: "true" } }
data:
  policy.yaml: |
    model: zoned
    backends: [{ name: main, service: zoned, port: grpc }]
---
apiVersion: v1
kind: ConfigMap
metadata: { name: flat-policy, namespace: ml, labels: { infermesh.io/policy: "true" } }
data:
  policy.yaml: |
    model: flat
    backends: [{ name: main, service: zoned, port: grpc }]
    zoneFailover: null
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: zoned-1, namespace: ml, labels: { kubernetes.io/service-name: zoned } }
addressType: IPv4
ports: [{ name: grpc, port: 8001 }]
endpoints:
  - { addresses: ["10.0.0.1"], conditions: { ready: true }, zone: zone-a }
  - { addresses: ["10.0.0.2"], conditions: { ready: true }, zone: zone-b }
`;

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'infermesh-zone-'));
  await writeFile(path.join(dir, 'world.yaml'), WORLD);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Rendered {
  endpoints: { cluster_name: string; endpoints?: { locality?: { zone?: string }; priority?: number }[] }[];
  policies: { model: string; policy: { zoneFailover?: unknown }; provenance: Record<string, string> }[];
}

const priorities = (rendered: Rendered, cluster: string) =>
  rendered.endpoints.find((e) => e.cluster_name === cluster)?.endpoints?.map((l) => [l.locality?.zone, l.priority ?? 0]);

describe('zoneFailover output', () => {
  it('explain shows it and where it came from (a namespace defaults layer, or the policy turning it off)', async () => {
    const explain = async (model: string) => {
      const { code, out } = await run('explain', '--model', model, '--config-dir', dir, '-o', 'json');
      expect(code).toBe(0);
      return (JSON.parse(out) as Explanation).settings.find((s) => s.field === 'zoneFailover.enabled');
    };
    expect(await explain('zoned')).toEqual({ field: 'zoneFailover.enabled', value: "true (caller's zone first, other zones at priority 1)", from: 'namespace ml/ml-defaults' });
    expect(await explain('flat')).toEqual({ field: 'zoneFailover.enabled', value: 'off', from: 'policy' });
  });

  it('render --show-policies lists it with provenance; the endpoints are flat, and --zone shows what a zone\'s proxies get', async () => {
    const flat = await run('render', '--config-dir', dir, '--show-policies');
    expect(flat.code).toBe(0);
    const rendered = JSON.parse(flat.out) as Rendered;
    expect(rendered.policies.map((p) => [p.model, p.policy.zoneFailover, p.provenance['zoneFailover.enabled'] ?? p.provenance['zoneFailover']])).toEqual([
      ['flat', undefined, 'policy'],
      ['zoned', { enabled: true }, 'default:namespace ml/ml-defaults'],
    ]);
    expect(priorities(rendered, 'infermesh|zoned|main')).toEqual([['zone-a', 0], ['zone-b', 0]]);
    const inB = JSON.parse((await run('render', '--config-dir', dir, '--zone', 'zone-b')).out) as Rendered;
    expect(priorities(inB, 'infermesh|zoned|main')).toEqual([['zone-a', 1], ['zone-b', 0]]);
    expect(priorities(inB, 'infermesh|flat|main')).toEqual([['zone-a', 0], ['zone-b', 0]]);
    const unknown = JSON.parse((await run('render', '--config-dir', dir, '--zone', 'zone-z')).out) as Rendered;
    expect(unknown.endpoints).toEqual(rendered.endpoints);
  });
});
