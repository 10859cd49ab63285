import { beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { ConfigMapObject, SourceWorld } from '../../src/sources/types.ts';

let codec: ResourceCodec;
beforeAll(() => {
  codec = new ResourceCodec(loadEnvoyProtos());
});

function cm(namespace: string, name: string, label: 'policy' | 'defaults', yaml: string): ConfigMapObject {
  return { namespace, name, labels: { [`infermesh.io/${label}`]: 'true' }, data: { 'x.yaml': yaml }, creationTimestamp: '2026-01-01T00:00:00Z', origin: 'test' };
}

const world = (configMaps: ConfigMapObject[]): SourceWorld => ({ configMaps, endpointSlices: [], readErrors: [] });
const policy = (extra = '') => `model: m\nbackends: [{ name: main, service: svc, port: grpc }]\n${extra}`;
const settings = { ...DEFAULT_SETTINGS, controlPlaneNamespace: 'infermesh-system' };

/** The split route's timeout, as "Ns" (the builders write whole-second timeouts as a Duration message). */
function servedTimeout(result: ReturnType<typeof reconcileWorld>): unknown {
  const routes = result.encoded[0]?.routes.headerRoutes ?? [];
  const timeout = routes.find((route) => route.name === 'm')?.route?.timeout;
  return timeout && `${Number(timeout.seconds ?? 0)}s`;
}

describe('defaults ConfigMaps', () => {
  it('apply with precedence policy > namespace defaults > global defaults > built-in', () => {
    const global = cm('infermesh-system', 'global', 'defaults', 'timeout: 10s\n');
    const namespace = cm('ml', 'ml-defaults', 'defaults', 'timeout: 20s\n');
    expect(servedTimeout(reconcileWorld(world([cm('ml', 'p', 'policy', policy())]), EMPTY_LAST_GOOD, codec, settings))).toBe('30s');
    expect(servedTimeout(reconcileWorld(world([global, cm('ml', 'p', 'policy', policy())]), EMPTY_LAST_GOOD, codec, settings))).toBe('10s');
    expect(servedTimeout(reconcileWorld(world([global, namespace, cm('ml', 'p', 'policy', policy())]), EMPTY_LAST_GOOD, codec, settings))).toBe('20s');
    expect(servedTimeout(reconcileWorld(world([global, namespace, cm('ml', 'p', 'policy', policy('timeout: 5s'))]), EMPTY_LAST_GOOD, codec, settings))).toBe('5s');
  });

  it('apply a namespace\'s defaults only to that namespace', () => {
    const other = cm('other', 'd', 'defaults', 'timeout: 20s\n');
    expect(servedTimeout(reconcileWorld(world([other, cm('ml', 'p', 'policy', policy())]), EMPTY_LAST_GOOD, codec, settings))).toBe('30s');
  });

  it('report a bad defaults document and keep applying its last good values', () => {
    const good = reconcileWorld(world([cm('ml', 'd', 'defaults', 'timeout: 20s\n'), cm('ml', 'p', 'policy', policy())]), EMPTY_LAST_GOOD, codec, settings);
    const broken = reconcileWorld(world([cm('ml', 'd', 'defaults', 'timeout: 20 s\n'), cm('ml', 'p', 'policy', policy())]), good.lastGood, codec, settings);
    expect(broken.policyErrors.map((e) => `${e.namespace}/${e.configMap} ${e.path}`)).toEqual(['ml/d timeout']);
    expect(servedTimeout(broken)).toBe('20s');
  });

  it('reject model fields in defaults with the valid choices', () => {
    const result = reconcileWorld(world([cm('ml', 'd', 'defaults', 'model: x\n')]), EMPTY_LAST_GOOD, codec, settings);
    expect(result.policyErrors[0]?.message).toContain('valid fields: server, protocol, timeout');
  });
});

describe('namespace boundary', () => {
  const crossNamespace = 'model: m\nbackends: [{ name: main, service: svc, namespace: shared, port: grpc }]\n';

  it('rejects a backend in another namespace, naming both namespaces and the flag', () => {
    const result = reconcileWorld(world([cm('ml', 'p', 'policy', crossNamespace)]), EMPTY_LAST_GOOD, codec, settings);
    expect(result.encoded).toEqual([]);
    const error = result.policyErrors[0];
    expect(error?.path).toBe('backends[0].namespace');
    expect(error?.message).toContain('"shared"');
    expect(error?.message).toContain('"ml"');
    expect(error?.message).toContain('--allow-cross-namespace shared');
  });

  it('accepts it when the target namespace is allowed, using that namespace\'s endpoints', () => {
    const slice = { namespace: 'shared', name: 's', serviceName: 'svc', addressType: 'IPv4', ports: [{ name: 'grpc', port: 9 }], endpoints: [{ addresses: ['10.9.0.1'], ready: true, serving: true, terminating: false }], origin: 't' };
    const result = reconcileWorld({ ...world([cm('ml', 'p', 'policy', crossNamespace)]), endpointSlices: [slice] }, EMPTY_LAST_GOOD, codec, { ...settings, crossNamespaceTargets: ['shared'] });
    expect(result.policyErrors).toEqual([]);
    expect(JSON.stringify(result.encoded[0]?.endpoints[0]?.json)).toContain('10.9.0.1');
  });
});
