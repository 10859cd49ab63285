import { expect } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { infer, tally } from './xds-client.ts';

/** The resnet50 policy the hot-reload tests edit: stable (version 1) and canary (version 2) with these weights. */
export function canaryPolicy(stableWeight: number, canaryWeight: number): string {
  return `
model: resnet50
server: triton
backends:
  - { name: stable, service: resnet50-v1, port: grpc, version: "1", weight: ${stableWeight} }
  - { name: canary, service: resnet50-v2, port: grpc, version: "2", weight: ${canaryWeight} }
`;
}

/** The pods that served `calls` resnet50 calls, sorted; every call must succeed. */
export async function podsServing(client: TritonClient, calls: number): Promise<string[]> {
  const { byPod, failures } = await tally(calls, () => infer(client, { 'x-model': 'resnet50' }));
  expect(failures).toEqual([]);
  return [...byPod.keys()].sort();
}
