import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { infer, tally, tritonOverXds } from '../support/xds-client.ts';

const RESNET_POLICY = `
model: resnet50
aliases: [resnet]
server: triton
backends:
  - { name: stable, service: resnet50-v1, port: grpc, version: "1", weight: 90 }
  - { name: canary, service: resnet50-v2, port: grpc, version: "2", weight: 10 }
`;

let mesh: Mesh;
let client: TritonClient;

beforeAll(async () => {
  mesh = await Mesh.start(
    [
      { kind: 'triton', host: '127.0.0.11', pod: 'resnet50-v1-a', service: 'resnet50-v1', models: ['resnet50'], version: '1', zone: 'zone-a' },
      { kind: 'triton', host: '127.0.0.12', pod: 'resnet50-v1-b', service: 'resnet50-v1', models: ['resnet50'], version: '1', zone: 'zone-b' },
      { kind: 'triton', host: '127.0.0.13', pod: 'resnet50-v2-a', service: 'resnet50-v2', models: ['resnet50'], version: '2', zone: 'zone-a' },
    ],
    { 'resnet50-policy': RESNET_POLICY },
  );
  client = tritonOverXds(mesh.channelOptions('routing-client'));
  await eventually(async () => expect((await infer(client, { 'x-model': 'resnet50' })).ok).toBe(true));
});

afterAll(async () => {
  client?.close();
  await mesh?.close();
});

describe('routing through a real @grpc/grpc-js-xds client', () => {
  it('splits 1,000 calls 90/10 between stable and canary, across both stable pods', async () => {
    const { byPod, failures } = await tally(1000, () => infer(client, { 'x-model': 'resnet50' }));
    expect(failures).toEqual([]);
    const stable = (byPod.get('resnet50-v1-a') ?? 0) + (byPod.get('resnet50-v1-b') ?? 0);
    const canary = byPod.get('resnet50-v2-a') ?? 0;
    expect(stable + canary).toBe(1000);
    // 3.5 standard deviations of a binomial(1000, 0.1) is about 33 calls.
    expect(canary).toBeGreaterThan(100 - 35);
    expect(canary).toBeLessThan(100 + 35);
    expect(byPod.get('resnet50-v1-a')).toBeGreaterThan(300);
    expect(byPod.get('resnet50-v1-b')).toBeGreaterThan(300);
  });

  it('pins a version with x-model-version', async () => {
    const { byPod, failures } = await tally(50, () => infer(client, { 'x-model': 'resnet50', 'x-model-version': '2' }));
    expect(failures).toEqual([]);
    expect([...byPod.keys()]).toEqual(['resnet50-v2-a']);
  });

  it('routes an alias to the same model', async () => {
    const result = await infer(client, { 'x-model': 'resnet', 'x-model-version': '1' });
    expect(result.ok && result.identity.pod.startsWith('resnet50-v1')).toBe(true);
  });

  it('answers an unknown model with NOT_FOUND', async () => {
    const result = await infer(client, { 'x-model': 'no-such-model' });
    expect(result).toMatchObject({ ok: false, code: grpc.status.NOT_FOUND });
  });

  it('answers an unknown version of a known model with NOT_FOUND', async () => {
    const result = await infer(client, { 'x-model': 'resnet50', 'x-model-version': '7' });
    expect(result).toMatchObject({ ok: false, code: grpc.status.NOT_FOUND });
  });

  it('answers a call without the model header with INVALID_ARGUMENT', async () => {
    const result = await infer(client, {});
    expect(result).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
  });

  it('never sent a call to the wrong model server', () => {
    for (const pod of mesh.pods.values()) expect(pod.notFound).toBe(0);
  });
});
