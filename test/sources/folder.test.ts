import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFolder } from '../../src/sources/folder.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'infermesh-folder-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readFolder', () => {
  it('reads multi-document YAML, Lists, ConfigMaps and EndpointSlices, and ignores other kinds', async () => {
    await writeFile(path.join(dir, 'a.yaml'), `apiVersion: v1
kind: ConfigMap
metadata: { name: p, namespace: ns, labels: { infermesh.io/policy: "true" } }
data: { policy.yaml: "model: m" }
---
apiVersion: apps/v1
kind: Deployment
metadata: { name: d }
---
apiVersion: v1
kind: List
items:
  - apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: { name: s, namespace: ns, labels: { kubernetes.io/service-name: svc } }
    addressType: IPv4
    ports: [{ name: grpc, port: 8001 }]
    endpoints:
      - addresses: [10.0.0.1]
      - addresses: [10.0.0.2]
        conditions: { ready: false, serving: true, terminating: true }
`);
    const world = await readFolder(dir);
    expect(world.readErrors).toEqual([]);
    expect(world.configMaps).toMatchObject([{ namespace: 'ns', name: 'p', labels: { 'infermesh.io/policy': 'true' }, data: { 'policy.yaml': 'model: m' } }]);
    expect(world.endpointSlices).toMatchObject([
      { namespace: 'ns', name: 's', serviceName: 'svc', ports: [{ name: 'grpc', port: 8001 }], endpoints: [{ addresses: ['10.0.0.1'], ready: true, serving: true, terminating: false }, { ready: false, serving: true, terminating: true }] },
    ]);
  });

  it('reports unparseable YAML and ownerless slices by file and document, and keeps reading the rest', async () => {
    await writeFile(path.join(dir, 'bad.yaml'), 'a: [unclosed\n');
    await writeFile(path.join(dir, 'slice.yml'), 'apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: { name: s }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: ok }\n');
    const world = await readFolder(dir);
    expect(world.readErrors.map((e) => e.origin)).toEqual(['bad.yaml#0', 'slice.yml#0']);
    expect(world.readErrors[1]?.message).toContain('kubernetes.io/service-name');
    expect(world.configMaps.map((c) => `${c.namespace}/${c.name}`)).toEqual(['default/ok']);
  });

  it('invents no creation time: an object without one has none, however often and whenever it is read', async () => {
    const file = path.join(dir, 'cm.yaml');
    await writeFile(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: b, creationTimestamp: "2026-01-01T00:00:00Z" }\n');
    const first = await readFolder(dir);
    await writeFile(file, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\ndata: { x: y }\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: { name: b, creationTimestamp: "2026-01-01T00:00:00Z" }\n');
    const second = await readFolder(dir);
    // A time this process made up would differ on another replica or after a restart (and so would who owns a contested name).
    expect(first.configMaps.map((c) => [c.name, c.creationTimestamp])).toEqual([['a', ''], ['b', '2026-01-01T00:00:00Z']]);
    expect(second.configMaps.map((c) => [c.name, c.creationTimestamp])).toEqual([['a', ''], ['b', '2026-01-01T00:00:00Z']]);
  });
});
