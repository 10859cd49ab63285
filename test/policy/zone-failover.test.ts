/** Zone failover: validation of `zoneFailover`, its resolution over defaults layers, and the per-zone assignments. */
import { describe, expect, it } from 'vitest';
import { clusterLoadAssignment } from '../../src/envoy/endpoints.ts';
import { failoverZones, zoneFailoverAssignment } from '../../src/envoy/zone-priorities.ts';
import { buildModelSteps } from '../../src/model/build.ts';
import { ZONE_FAILOVER_NO_ZONES } from '../../src/model/policy-warnings.ts';
import type { Endpoint, ModelPolicy } from '../../src/model/types.ts';
import type { EndpointSliceObject } from '../../src/sources/types.ts';
import { runToEnd } from '../../src/util/cooperative.ts';
import { testPolicy } from '../support/models.ts';
import { resolvePolicyWithProvenance, type PolicyDefaults } from '../../src/policy/index.ts';
import { docWith, problems, validDoc, SOURCE } from './helpers.ts';


describe('zoneFailover: validation', () => {
  it.each([[{ enabled: true }], [{ enabled: false }], [null]])('accepts %j', (zoneFailover) => {
    expect(problems(docWith({ zoneFailover }))).toEqual([]);
  });

  it('names the field for a non-boolean, a missing enabled, an unknown field and a non-mapping', () => {
    expect(problems(docWith({ zoneFailover: { enabled: 'yes' } }))).toEqual(['zoneFailover.enabled: must be true or false, got "yes"']);
    expect(problems(docWith({ zoneFailover: {} }))).toEqual(['zoneFailover.enabled: required: must be true or false']);
    expect(problems(docWith({ zoneFailover: { enabled: true, zone: 'a' } }))).toEqual([expect.stringMatching(/^zoneFailover\.zone: unknown field; valid fields: enabled/)]);
    expect(problems(docWith({ zoneFailover: true }))[0]).toMatch(/^zoneFailover: must be a mapping with fields enabled .*e\.g\. \{ enabled: true \}.*, got true$/);
  });
});

describe('zoneFailover: resolution', () => {
  const layer = (values: Record<string, unknown>): PolicyDefaults => {
    const { model: _m, aliases: _a, backends: _b, ...defaultable } = validDoc(docWith(values));
    return { name: 'namespace/ml', values: defaultable };
  };
  const resolve = (patch: Record<string, unknown>, layers: PolicyDefaults[] = []) => resolvePolicyWithProvenance(validDoc(docWith(patch)), SOURCE, layers);

  it('is off unless set, with no provenance entry', () => {
    const { policy, provenance } = resolve({});
    expect(policy.zoneFailover).toBeUndefined();
    expect(Object.keys(provenance).filter((key) => key.startsWith('zoneFailover'))).toEqual([]);
  });

  it('comes from the policy or a defaults layer, and says which', () => {
    expect(resolve({ zoneFailover: { enabled: true } })).toMatchObject({ policy: { zoneFailover: { enabled: true } }, provenance: { 'zoneFailover.enabled': 'policy' } });
    expect(resolve({}, [layer({ zoneFailover: { enabled: true } })])).toMatchObject({ policy: { zoneFailover: { enabled: true } }, provenance: { 'zoneFailover.enabled': 'default:namespace/ml' } });
  });

  it('enabled: false or null in the policy turns a layer\'s zone failover off, and says who did', () => {
    const off = resolve({ zoneFailover: { enabled: false } }, [layer({ zoneFailover: { enabled: true } })]);
    expect(off.policy.zoneFailover).toBeUndefined();
    expect(off.provenance['zoneFailover.enabled']).toBe('policy');
    const nulled = resolve({ zoneFailover: null }, [layer({ zoneFailover: { enabled: true } })]);
    expect(nulled.policy.zoneFailover).toBeUndefined();
    expect(nulled.provenance['zoneFailover']).toBe('policy');
  });
});

const at = (address: string, zone: string | undefined, health: Endpoint['health'] = 'healthy'): Endpoint => ({ address, port: 8001, health, ...(zone ? { zone } : {}) });
const ENDPOINTS = [at('10.0.0.3', 'zone-b'), at('10.0.0.1', 'zone-a'), at('10.0.0.2', 'zone-a', 'unhealthy'), at('10.0.0.4', 'zone-b'), at('10.0.0.5', 'zone-c', 'draining')];
const CLUSTER = 'infermesh|m|main';

describe('zone failover: per-zone ClusterLoadAssignment', () => {
  it('puts the caller\'s zone at priority 0 and every other zone at priority 1, keeping endpoints, health and weights', () => {
    const assignment = zoneFailoverAssignment(CLUSTER, ENDPOINTS, 'zone-b');
    const summary = (assignment.endpoints ?? []).map((l) => ({
      zone: l.locality?.zone,
      priority: l.priority,
      weight: l.load_balancing_weight?.value,
      endpoints: (l.lb_endpoints ?? []).map((e) => `${e.endpoint?.address?.socket_address?.address} ${e.health_status}`),
    }));
    expect(summary).toEqual([
      { zone: 'zone-a', priority: 1, weight: 1, endpoints: ['10.0.0.1 HEALTHY', '10.0.0.2 UNHEALTHY'] },
      { zone: 'zone-b', priority: undefined, weight: 2, endpoints: ['10.0.0.3 HEALTHY', '10.0.0.4 HEALTHY'] },
      // A locality with no healthy endpoint still gets a weight (gRPC ignores a locality without one).
      { zone: 'zone-c', priority: 1, weight: 1, endpoints: ['10.0.0.5 DRAINING'] },
    ]);
  });

  it('differs from the flat assignment only in priorities', () => {
    const flat = clusterLoadAssignment(CLUSTER, ENDPOINTS);
    const zoned = zoneFailoverAssignment(CLUSTER, ENDPOINTS, 'zone-a');
    const withoutPriority = (zoned.endpoints ?? []).map(({ priority: _p, ...rest }) => rest);
    expect({ ...zoned, endpoints: withoutPriority }).toEqual(flat);
    expect((zoned.endpoints ?? []).map((l) => l.priority ?? 0)).toEqual([0, 1, 1]);
  });

  it('endpoints without a zone are a locality of their own, at priority 1 for every caller', () => {
    const endpoints = [at('10.0.0.1', 'zone-a'), at('10.0.0.9', undefined)];
    expect(failoverZones(endpoints)).toEqual(['zone-a']);
    const zoned = zoneFailoverAssignment(CLUSTER, endpoints, 'zone-a');
    expect((zoned.endpoints ?? []).map((l) => [l.locality?.zone ?? '', l.priority ?? 0])).toEqual([['', 1], ['zone-a', 0]]);
  });

  it('builds variants only for zones holding an endpoint, and none when all endpoints share one locality', () => {
    expect(failoverZones(ENDPOINTS)).toEqual(['zone-a', 'zone-b', 'zone-c']);
    expect(failoverZones([at('10.0.0.1', 'zone-a'), at('10.0.0.2', 'zone-a')])).toEqual([]);
    expect(failoverZones([at('10.0.0.1', undefined)])).toEqual([]);
    expect(failoverZones([])).toEqual([]);
  });
});

describe('zoneFailover: warning when it cannot act', () => {
  const slice = (zone?: string): EndpointSliceObject => ({
    namespace: 'models',
    name: 'resnet50-triton-1',
    serviceName: 'resnet50-triton',
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: 8001 }],
    endpoints: [{ addresses: ['10.0.0.1'], ready: true, serving: true, terminating: false, ...(zone ? { zone } : {}) }],
    origin: 'test',
  });
  const warningsFor = (policy: ModelPolicy, slices: EndpointSliceObject[]) =>
    runToEnd(buildModelSteps([policy], slices)).warnings.filter((warning) => warning.message.startsWith('zoneFailover:'));
  const single = testPolicy({ backends: [{ name: 'stable', service: 'resnet50-triton', port: 'grpc', weight: 1 }], zoneFailover: { enabled: true } });

  it('warns, naming the model, when none of its endpoints has a zone', () => {
    expect(warningsFor(single, [slice()])).toEqual([{ model: 'resnet50', message: ZONE_FAILOVER_NO_ZONES }]);
  });

  it('does not warn when endpoints have zones, when it has no endpoints yet, or when the field is off', () => {
    expect(warningsFor(single, [slice('zone-a')])).toEqual([]);
    expect(warningsFor(single, [])).toEqual([]);
    const { zoneFailover: _off, ...withoutField } = single;
    expect(warningsFor(withoutField, [slice()])).toEqual([]);
  });
});
