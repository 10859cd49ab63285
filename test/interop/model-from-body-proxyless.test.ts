/**
 * Policy `modelFromBody` with proxyless gRPC clients: the model's own table (xds:///infermesh/<model>) carries
 * the optional per-filter config that switches the body-routing guard off (a LuaPerRoute, which gRPC does not
 * implement) and request_headers_to_remove. Every client must accept the tables (no NACK) and call the model
 * as before, by header on xds:///infermesh and by target on its own. grpc-js-xds in this process; gRPC C-core
 * from Python (Debian python3-grpcio 1.51 and grpcio from PyPI) and grpc-go. Pod on 127.0.3.20.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tritonInfer } from '../../demo/fake-model-server.ts';
import { BODY_ROUTING_GUARD_FILTER } from '../../src/envoy/names.ts';
import { Mesh } from '../support/mesh.ts';
import { tritonOverXds } from '../support/xds-client.ts';
import { describeProcessClients, nacks } from './proxyless-clients.ts';

const POLICY = `
model: chatty
server: triton
protocol: grpc
modelFromBody: true
backends: [{ name: main, service: chatty, port: grpc }]
`;
const CALLS = 5;

let mesh: Mesh;

beforeAll(async () => {
  mesh = await Mesh.start([{ kind: 'triton', host: '127.0.3.20', pod: 'chatty-a', service: 'chatty', models: ['chatty'], version: '1' }], { 'chatty-policy': POLICY });
});

afterAll(async () => {
  await mesh?.close();
});

it('the model\'s own table carries the guard switch and the marker removal', () => {
  const table = JSON.stringify(mesh.server.store.current()?.resources('route').get(`${mesh.settings.grpcTarget}/chatty`)?.json);
  expect(table).toContain(BODY_ROUTING_GUARD_FILTER);
  expect(table).toContain('"request_headers_to_remove"');
});

it('grpc-js-xds accepts the tables (no NACK) and calls the model on both targets', async () => {
  const before = await nacks(mesh);
  for (const target of ['infermesh', 'infermesh/chatty']) {
    const options = { ...mesh.channelOptions(`grpc-js-body-${process.pid}-${target}`), 'grpc.default_authority': encodeURIComponent(target) };
    const client = tritonOverXds(options, `xds:///${target}`);
    try {
      for (let i = 0; i < CALLS; i++) {
        const { pod } = await tritonInfer(client, 'chatty', { metadata: { 'x-model': 'chatty' }, timeoutMs: 10_000 });
        expect(pod).toBe('chatty-a');
      }
    } finally {
      client.close();
    }
  }
  expect(await nacks(mesh)).toBe(before);
});

describeProcessClients(() => mesh, 'proxyless-body', (call, { label }) => {

  it(`${label} accepts the tables (no NACK) and calls the model on both targets`, async () => {
    const before = await nacks(mesh);
    for (const target of ['infermesh', 'infermesh/chatty']) {
      const { pods, errors } = await call('triton', 'chatty', CALLS, { 'x-model': 'chatty' }, { target });
      expect(errors).toEqual({});
      expect(pods).toEqual({ 'chatty-a': CALLS });
    }
    expect(await nacks(mesh)).toBe(before);
  });
});
