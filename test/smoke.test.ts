import { describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../src/envoy/protos.ts';

describe('Envoy protos', () => {
  it('load from @grpc/grpc-js-xds deps with validate rules attached', () => {
    const root = loadEnvoyProtos();
    const cluster = root.lookupType('envoy.config.cluster.v3.Cluster');
    expect(cluster.fields['name']?.options?.['(validate.rules).string.min_len']).toBe(1);
  });
});
