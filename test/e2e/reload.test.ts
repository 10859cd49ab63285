import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { canaryPolicy, podsServing } from '../support/canary.ts';
import { infer, tritonOverXds } from '../support/xds-client.ts';

let mesh: Mesh;
let client: TritonClient;

const servedBy = (calls: number) => podsServing(client, calls);

beforeAll(async () => {
  mesh = await Mesh.start(
    [
      { kind: 'triton', host: '127.0.0.41', pod: 'v1', service: 'resnet50-v1', models: ['resnet50'], version: '1' },
      { kind: 'triton', host: '127.0.0.42', pod: 'v2', service: 'resnet50-v2', models: ['resnet50'], version: '2' },
    ],
    { 'resnet50-policy': canaryPolicy(100, 0) },
  );
  client = tritonOverXds(mesh.channelOptions('reload-client'));
  await eventually(async () => expect((await infer(client, { 'x-model': 'resnet50' })).ok).toBe(true));
});

afterAll(async () => {
  client?.close();
  await mesh?.close();
});

describe('hot reload from the folder', () => {
  it('starts with all traffic on stable', async () => {
    expect(await servedBy(30)).toEqual(['v1']);
  });

  it('follows an edited policy (atomic rename, as editors save)', async () => {
    await mesh.writePolicy('resnet50-policy', canaryPolicy(0, 100));
    await eventually(async () => expect(await servedBy(20)).toEqual(['v2']));
  });

  it('keeps the last good policy serving when an edit is invalid, and reports it', async () => {
    await mesh.writePolicy('resnet50-policy', `${canaryPolicy(0, 100)}\nretries: { atempts: 2 }\n`);
    await eventually(() => {
      const status = mesh.server.controller.status();
      const resnet = status.models.find((m) => m.model === 'resnet50');
      expect(resnet?.state).toBe('stale');
      expect(resnet?.problems.join('\n')).toContain('attempts');
    });
    expect(await servedBy(20)).toEqual(['v2']);
    expect(await mesh.metrics()).toMatch(/infermesh_models\{state="stale"\} 1/);
  });

  it('applies the next valid edit after a bad one', async () => {
    await mesh.writePolicy('resnet50-policy', canaryPolicy(100, 0));
    await eventually(async () => expect(await servedBy(20)).toEqual(['v1']));
    expect(mesh.server.controller.status().models.find((m) => m.model === 'resnet50')?.state).toBe('serving');
  });

  it('follows endpoint changes: a pod that becomes not ready gets no traffic', async () => {
    await mesh.writePolicy('resnet50-policy', canaryPolicy(50, 50));
    await eventually(async () => expect(await servedBy(40)).toEqual(['v1', 'v2']));
    mesh.pod('v2').setReady(false);
    await mesh.writeSlices();
    await eventually(async () => expect(await servedBy(20)).toEqual(['v1']));
  });

  it('makes a deleted policy\'s model unknown', async () => {
    await mesh.writeFileAtomically('resnet50-policy.yaml', '# deleted\n');
    await eventually(async () => expect(await infer(client, { 'x-model': 'resnet50' })).toMatchObject({ ok: false, code: 5 }));
  });
});
