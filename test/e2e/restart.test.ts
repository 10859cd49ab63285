import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { canaryPolicy, podsServing } from '../support/canary.ts';
import { tritonOverXds } from '../support/xds-client.ts';

let mesh: Mesh;
let client: TritonClient;

const servedBy = (calls: number) => podsServing(client, calls);

beforeAll(async () => {
  mesh = await Mesh.start(
    [
      { kind: 'triton', host: '127.0.0.51', pod: 'v1', service: 'resnet50-v1', models: ['resnet50'], version: '1' },
      { kind: 'triton', host: '127.0.0.52', pod: 'v2', service: 'resnet50-v2', models: ['resnet50'], version: '2' },
    ],
    { 'resnet50-policy': canaryPolicy(100, 0) },
  );
  client = tritonOverXds(mesh.channelOptions('restart-client'));
  await eventually(async () => expect(await servedBy(5)).toEqual(['v1']));
});

afterAll(async () => {
  client?.close();
  await mesh?.close();
});

describe('a control-plane restart, seen by a real grpc-js-xds client', () => {
  it('resumes the reconnecting client without resending what it runs, and keeps it routing', async () => {
    await mesh.restartServer();
    await eventually(() => {
      const streams = mesh.server.xds.streams();
      expect(streams).toHaveLength(1);
      const states = [...streams[0]!.syncState().values()];
      expect(states.length).toBeGreaterThanOrEqual(4);
      for (const state of states) expect(state.syncedThrough).toBe(mesh.server.store.current()?.sequence);
    }, { timeoutMs: 15_000 });
    expect(await mesh.metrics()).not.toMatch(/infermesh_xds_pushes_total\{[^}]*\} [1-9]/);
    expect(await servedBy(10)).toEqual(['v1']);
  });

  it('delivers the next change after the restart', async () => {
    await mesh.writePolicy('resnet50-policy', canaryPolicy(0, 100));
    await eventually(async () => expect(await servedBy(10)).toEqual(['v2']));
  });
});
