/**
 * Policy `rateLimit` with proxyless gRPC clients: the route tables they read (xds:///infermesh and the model's
 * own) are read with the model's per-virtual-host rate limit config (the model's own table), marked optional, for
 * a filter their API listener does not have. Every client must accept the tables (no NACK) and call unlimited, as the README's Traffic
 * policies table and the validate//status warning say: far more calls than the bucket holds all succeed.
 * grpc-js-xds in this process; gRPC C-core from Python (Debian python3-grpcio 1.51 and grpcio from PyPI) and grpc-go.
 * Pod on 127.0.0.250.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tritonInfer } from '../../demo/fake-model-server.ts';
import { Mesh } from '../support/mesh.ts';
import { tritonOverXds } from '../support/xds-client.ts';
import { describeProcessClients, nacks } from './proxyless-clients.ts';

const POLICY = `
model: limited
server: triton
protocol: grpc
backends:
  - { name: stable, service: limited-v1, port: grpc, version: "1" }
rateLimit: { requestsPerSecond: 1, burst: 1 }
`;
/** A sidecar would answer RESOURCE_EXHAUSTED to all but about one of these. */
const CALLS = 20;

let mesh: Mesh;

beforeAll(async () => {
  mesh = await Mesh.start(
    [{ kind: 'triton', host: '127.0.0.250', pod: 'limited-v1-a', service: 'limited-v1', models: ['limited'], version: '1' }],
    { 'limited-policy': POLICY },
  );
});

afterAll(async () => {
  await mesh?.close();
});

it("the model's own table carries the optional rate limit config (the shared table has one virtual host for every model, so none)", () => {
  const json = (name: string) => JSON.stringify(mesh.server.store.current()?.resources('route').get(name)?.json);
  expect(json(`${mesh.settings.grpcTarget}/limited`)).toContain('"envoy.filters.http.local_ratelimit"');
  expect(json(`${mesh.settings.grpcTarget}/limited`)).toContain('"is_optional":true');
  expect(json(mesh.settings.grpcTarget)).not.toContain('local_ratelimit');
});

it('grpc-js-xds accepts them (no NACK) and is not limited, on both targets', async () => {
  const before = await nacks(mesh);
  for (const target of ['infermesh', 'infermesh/limited']) {
    const options = { ...mesh.channelOptions(`grpc-js-limit-${process.pid}-${target}`), 'grpc.default_authority': encodeURIComponent(target) };
    const client = tritonOverXds(options, `xds:///${target}`);
    const pods: Record<string, number> = {};
    try {
      for (let i = 0; i < CALLS; i++) {
        const { pod } = await tritonInfer(client, 'limited', { metadata: { 'x-model': 'limited' }, timeoutMs: 10_000 });
        pods[pod] = (pods[pod] ?? 0) + 1;
      }
    } finally {
      client.close();
    }
    expect(pods).toEqual({ 'limited-v1-a': CALLS });
  }
  expect(await nacks(mesh)).toBe(before);
});

describeProcessClients(() => mesh, 'proxyless-limit', (call, { label }) => {

  it(`${label} accepts the tables (no NACK) and is not limited, on both targets`, async () => {
    const before = await nacks(mesh);
    for (const target of ['infermesh', 'infermesh/limited']) {
      const { pods, errors } = await call('triton', 'limited', CALLS, { 'x-model': 'limited' }, { target });
      expect(errors).toEqual({});
      expect(pods).toEqual({ 'limited-v1-a': CALLS });
    }
    expect(await nacks(mesh)).toBe(before);
  });
});
