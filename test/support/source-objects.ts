import type { EndpointSliceObject } from '../../src/sources/types.ts';

/** One EndpointSlice in namespace `ml` for `service`: each address a ready endpoint on the port named grpc. */
export function testSlice(service: string, addresses: string[]): EndpointSliceObject {
  return {
    namespace: 'ml',
    name: `${service}-1`,
    serviceName: service,
    addressType: 'IPv4',
    ports: [{ name: 'grpc', port: 8001 }],
    endpoints: addresses.map((address) => ({ addresses: [address], ready: true, serving: true, terminating: false })),
    origin: 'test',
  };
}
