import type { ConfigMapObject, EndpointSliceObject, SourceWorld } from '../src/sources/types.ts';

/** A synthetic cluster: M models, each with 2 backends (stable/canary) of `endpointsPerBackend` pods. */
export function syntheticWorld(models: number, endpointsPerBackend = 5): SourceWorld {
  const configMaps: ConfigMapObject[] = [];
  const endpointSlices: EndpointSliceObject[] = [];
  for (let i = 0; i < models; i += 1) {
    configMaps.push(modelPolicy(i));
    for (const backend of ['stable', 'canary']) {
      endpointSlices.push({
        namespace: 'models',
        name: `m${i}-${backend}-abc`,
        serviceName: `m${i}-${backend}`,
        addressType: 'IPv4',
        ports: [{ name: 'grpc', port: 8001 }],
        endpoints: Array.from({ length: endpointsPerBackend }, (_, e) => ({
          addresses: [`10.${(i >> 8) & 255}.${i & 255}.${(backend === 'stable' ? 0 : 100) + e}`],
          ready: true,
          serving: true,
          terminating: false,
          zone: `zone-${e % 3}`,
        })),
        origin: 'bench',
      });
    }
  }
  return { configMaps, endpointSlices, readErrors: [] };
}

export function modelPolicy(i: number, stableWeight = 90): ConfigMapObject {
  return {
    namespace: 'models',
    name: `m${i}-policy`,
    labels: { 'infermesh.io/policy': 'true' },
    creationTimestamp: '2026-01-01T00:00:00Z',
    origin: 'bench',
    data: {
      'policy.yaml': `model: model-${i}\nserver: triton\nbackends:\n  - { name: stable, service: m${i}-stable, port: grpc, version: "1", weight: ${stableWeight} }\n  - { name: canary, service: m${i}-canary, port: grpc, version: "2", weight: ${100 - stableWeight} }\nretries: { attempts: 2, perTryTimeout: 5s }\n`,
    },
  };
}
