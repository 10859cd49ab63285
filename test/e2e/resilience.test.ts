import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TfServingClient } from '../../demo/fake-model-server.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { predict, tally, tfServingOverXds } from '../support/xds-client.ts';

const RETRY_POLICY = `
model: bert
server: tfserving
backends:
  - { name: main, service: bert, port: grpc, version: "3" }
retries: { attempts: 3, retryOn: [unavailable], backoff: { base: 5ms, max: 20ms } }
outlierDetection: { interval: 1h, baseEjectionTime: 30s, maxEjectionPercent: 50 }
`;

const OUTLIER_POLICY = `
model: gpt
server: tfserving
backends:
  - { name: main, service: gpt, port: grpc, version: "1" }
retries: { attempts: 0 }
outlierDetection:
  interval: 500ms
  baseEjectionTime: 1m
  maxEjectionPercent: 50
  failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 10 }
`;

let mesh: Mesh;
let client: TfServingClient;

beforeAll(async () => {
  mesh = await Mesh.start(
    [
      { kind: 'tfserving', host: '127.0.0.21', pod: 'bert-a', service: 'bert', models: ['bert'], version: '3' },
      { kind: 'tfserving', host: '127.0.0.22', pod: 'bert-b', service: 'bert', models: ['bert'], version: '3' },
      { kind: 'tfserving', host: '127.0.0.31', pod: 'gpt-a', service: 'gpt', models: ['gpt'], version: '1' },
      { kind: 'tfserving', host: '127.0.0.32', pod: 'gpt-b', service: 'gpt', models: ['gpt'], version: '1' },
    ],
    { 'bert-policy': RETRY_POLICY, 'gpt-policy': OUTLIER_POLICY },
  );
  client = tfServingOverXds(mesh.channelOptions('resilience-client'));
  await eventually(async () => expect((await predict(client, { 'x-model': 'bert' })).ok).toBe(true));
  await eventually(async () => expect((await predict(client, { 'x-model': 'gpt' }, 'gpt')).ok).toBe(true));
});

afterAll(async () => {
  client?.close();
  await mesh?.close();
});

describe('resilience policy applied by a real @grpc/grpc-js-xds client', () => {
  it('retries: with a pod failing every other call, every call succeeds', async () => {
    const flaky = mesh.pod('bert-a');
    flaky.setFailure({ kind: 'every-nth', n: 2, code: grpc.status.UNAVAILABLE });
    // One call at a time, so "every other call" is exactly that for the flaky pod.
    const { byPod, failures } = await tally(200, () => predict(client, { 'x-model': 'bert' }), 1);
    flaky.setFailure({ kind: 'none' });
    expect(failures).toEqual([]);
    expect(flaky.failures).toBeGreaterThan(10);
    expect((byPod.get('bert-a') ?? 0) + (byPod.get('bert-b') ?? 0)).toBe(200);
  });

  it('outlier detection: an always-failing pod is ejected and stops receiving calls', async () => {
    const broken = mesh.pod('gpt-b');
    broken.setFailure({ kind: 'always', code: grpc.status.UNAVAILABLE });
    // Failure-percentage ejection runs on the detector's interval (500ms); keep calling until a window of
    // 40 consecutive calls all succeed on the healthy pod, bounded by the helper's deadline.
    await eventually(async () => {
      const before = broken.requests;
      const { failures } = await tally(40, () => predict(client, { 'x-model': 'gpt' }, 'gpt'), 4);
      expect(failures).toEqual([]);
      expect(broken.requests).toBe(before);
    }, { timeoutMs: 15_000, intervalMs: 100 });
    expect(broken.failures).toBeGreaterThan(0);
  });
});
