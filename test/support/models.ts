import { backendClusterName } from '../../src/envoy/names.ts';
import type { Backend, Endpoint, Model, ModelPolicy } from '../../src/model/types.ts';

/** A small resolved policy for builder tests; override what a test is about. */
export function testPolicy(overrides: Partial<ModelPolicy> = {}): ModelPolicy {
  return {
    model: 'resnet50',
    aliases: [],
    server: 'triton',
    protocol: 'grpc',
    backends: [
      { name: 'stable', service: 'resnet50-triton', port: 'grpc', version: '1', weight: 90 },
      { name: 'canary', service: 'resnet50-triton-v2', port: 'grpc', version: '2', weight: 10 },
    ],
    timeoutMs: 30_000,
    retries: { attempts: 2, retryOn: ['unavailable', 'connect-failure'], backoff: { baseMs: 25, maxMs: 250 } },
    probe: { enabled: true, port: 'http' },
    source: { namespace: 'models', configMap: 'resnet50-policy', key: 'policy.yaml', index: 0, createdAt: '2026-01-01T00:00:00Z' },
    ...overrides,
  };
}

export function testModel(policy: ModelPolicy = testPolicy(), endpoints: Endpoint[] = []): Model {
  const backends: Backend[] = policy.backends.map((backend) => ({
    name: backend.name,
    ...(backend.version !== undefined ? { version: backend.version } : {}),
    weight: backend.weight,
    clusterName: backendClusterName(policy.model, backend.name),
    service: { namespace: policy.source.namespace, name: backend.service, port: backend.port },
    endpoints,
  }));
  return { policy, backends };
}
