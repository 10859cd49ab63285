import { describe, expect, it } from 'vitest';
import { indexSlices, resolveEndpoints } from '../../src/model/endpoints.ts';
import type { EndpointSliceObject } from '../../src/sources/types.ts';

function slice(name: string, endpoints: EndpointSliceObject['endpoints'], ports = [{ name: 'grpc', port: 8001 }]): EndpointSliceObject {
  return { namespace: 'models', name, serviceName: 'svc', addressType: 'IPv4', ports, endpoints, origin: 'test' };
}

const ready = { ready: true, serving: true, terminating: false };

describe('resolveEndpoints', () => {
  it('merges slices, drops not-ready endpoints, drains serving+terminating ones, dedups addresses', () => {
    const index = indexSlices([
      slice('a', [
        { addresses: ['10.0.0.1'], ...ready, zone: 'z1' },
        { addresses: ['10.0.0.2'], ready: false, serving: false, terminating: false },
      ]),
      slice('b', [
        { addresses: ['10.0.0.3'], ready: false, serving: true, terminating: true },
        { addresses: ['10.0.0.1'], ...ready, zone: 'z1' },
      ]),
    ]);
    const { endpoints, warnings } = resolveEndpoints({ namespace: 'models', name: 'svc', port: 'grpc' }, index);
    expect(warnings).toEqual([]);
    expect(endpoints).toEqual([
      { address: '10.0.0.1', port: 8001, zone: 'z1', health: 'healthy' },
      { address: '10.0.0.3', port: 8001, health: 'draining' },
    ]);
  });

  it('uses a numeric port as the endpoint port', () => {
    const index = indexSlices([slice('a', [{ addresses: ['10.0.0.1'], ...ready }])]);
    expect(resolveEndpoints({ namespace: 'models', name: 'svc', port: 9000 }, index).endpoints[0]?.port).toBe(9000);
  });

  it('warns, naming the slice and its ports, when the port name is missing', () => {
    const index = indexSlices([slice('a', [{ addresses: ['10.0.0.1'], ...ready }], [{ name: 'http', port: 8000 }])]);
    const { endpoints, warnings } = resolveEndpoints({ namespace: 'models', name: 'svc', port: 'grpc' }, index);
    expect(endpoints).toEqual([]);
    expect(warnings[0]).toBe('EndpointSlice models/a has no port named "grpc" (ports: http)');
  });

  it('does not cross namespaces', () => {
    const index = indexSlices([slice('a', [{ addresses: ['10.0.0.1'], ...ready }])]);
    expect(resolveEndpoints({ namespace: 'other', name: 'svc', port: 'grpc' }, index).endpoints).toEqual([]);
  });
});
