/**
 * Policy `mirror` with proxyless gRPC clients: the route tables they read (xds:///infermesh and the model's
 * own) carry request_mirror_policies, which gRPC does not implement. Every client must accept the tables (no
 * NACK) and route as if the field were absent: calls reach stable, the canary gets no copies. grpc-js-xds in
 * this process; gRPC C-core from Python (Debian python3-grpcio 1.51 and grpcio from PyPI) and grpc-go. Pods on
 * 127.0.0.144-145.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tritonInfer } from '../../demo/fake-model-server.ts';
import { Mesh } from '../support/mesh.ts';
import { tritonOverXds } from '../support/xds-client.ts';
import { describeProcessClients, nacks } from './proxyless-clients.ts';

const POLICY = `
model: shadowed
server: triton
protocol: grpc
backends:
  - { name: stable, service: shadowed-v1, port: grpc, version: "1", weight: 100 }
  - { name: canary, service: shadowed-v2, port: grpc, version: "2", weight: 0 }
mirror: { backend: canary, percent: 100 }
`;
const CALLS = 20;

let mesh: Mesh;

beforeAll(async () => {
  mesh = await Mesh.start(
    [
      { kind: 'triton', host: '127.0.0.144', pod: 'shadowed-v1-a', service: 'shadowed-v1', models: ['shadowed'], version: '1' },
      { kind: 'triton', host: '127.0.0.145', pod: 'shadowed-v2-a', service: 'shadowed-v2', models: ['shadowed'], version: '2' },
    ],
    { 'shadowed-policy': POLICY },
  );
});

afterAll(async () => {
  await mesh?.close();
});

function expectIgnored(pods: Record<string, number>, errors: Record<string, number>): void {
  expect(errors).toEqual({});
  expect(pods).toEqual({ 'shadowed-v1-a': CALLS });
  expect(mesh.pod('shadowed-v2-a').requestsFor('shadowed')).toBe(0);
}

it('the tables proxyless clients read carry the mirror policy', () => {
  for (const name of [mesh.settings.grpcTarget, `${mesh.settings.grpcTarget}/shadowed`]) {
    expect(JSON.stringify(mesh.server.store.current()?.resources('route').get(name)?.json)).toContain('"request_mirror_policies"');
  }
});

it('grpc-js-xds accepts them (no NACK) and ignores the mirror, on both targets', async () => {
  const before = await nacks(mesh);
  for (const target of ['infermesh', 'infermesh/shadowed']) {
    mesh.pod('shadowed-v2-a').resetCounters();
    const options = { ...mesh.channelOptions(`grpc-js-mirror-${process.pid}-${target}`), 'grpc.default_authority': encodeURIComponent(target) };
    const client = tritonOverXds(options, `xds:///${target}`);
    const pods: Record<string, number> = {};
    try {
      for (let i = 0; i < CALLS; i++) {
        const { pod } = await tritonInfer(client, 'shadowed', { metadata: { 'x-model': 'shadowed' }, timeoutMs: 10_000 });
        pods[pod] = (pods[pod] ?? 0) + 1;
      }
    } finally {
      client.close();
    }
    expectIgnored(pods, {});
  }
  expect(await nacks(mesh)).toBe(before);
});

describeProcessClients(() => mesh, 'proxyless-mirror', (call, { label }) => {

  it(`${label} accepts the tables (no NACK) and ignores the mirror, on both targets`, async () => {
    const before = await nacks(mesh);
    for (const target of ['infermesh', 'infermesh/shadowed']) {
      mesh.pod('shadowed-v2-a').resetCounters();
      const { pods, errors } = await call('triton', 'shadowed', CALLS, { 'x-model': 'shadowed' }, { target });
      expectIgnored(pods, errors);
    }
    expect(await nacks(mesh)).toBe(before);
  });
});
