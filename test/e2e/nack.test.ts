import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { Mesh } from '../support/mesh.ts';
import { RawAdsClient } from '../support/raw-ads-client.ts';

let mesh: Mesh;
let client: RawAdsClient;

beforeAll(async () => {
  mesh = await Mesh.start(
    [{ kind: 'triton', host: '127.0.0.51', pod: 'p', service: 'svc', models: ['m'], version: '1' }],
    { 'm-policy': 'model: m\nbackends: [{ name: main, service: svc, port: grpc }]' },
  );
  client = new RawAdsClient(loadEnvoyProtos(), `127.0.0.1:${mesh.server.xdsPort}`);
});

afterAll(async () => {
  client?.close();
  await mesh?.close();
});

const node = { id: 'raw-nacker', cluster: 'test', user_agent_name: 'raw-ads-test' };

describe('a NACK from an ADS client', () => {
  it('is recorded and counted, and never answered with a push loop', async () => {
    client.send({ node, type_url: TYPE_URLS.cluster, resource_names: [] });
    const clusters = await client.next((r) => r.type_url === TYPE_URLS.cluster);
    expect(clusters.resources.length).toBeGreaterThan(0);

    client.send({ node, type_url: TYPE_URLS.cluster, response_nonce: clusters.nonce, version_info: '', error_detail: { code: 3, message: 'test rejects every cluster' } });
    // The server handles one stream's requests in order: once the listener response arrives, any push the
    // NACK provoked would already have arrived before it.
    const seen = client.received.length;
    client.send({ node, type_url: TYPE_URLS.listener, resource_names: [] });
    await client.next((r) => r.type_url === TYPE_URLS.listener, seen);
    expect(client.received.slice(seen).map((r) => r.type_url)).toEqual([TYPE_URLS.listener]);

    const metrics = await mesh.metrics();
    expect(metrics).toMatch(/infermesh_xds_nacks_total\{type="cluster"\} 1/);
    const stream = mesh.server.xds.streams().find((s) => s.node?.id === 'raw-nacker');
    expect(stream?.syncState().get('cluster')?.lastNack).toMatchObject({ message: 'test rejects every cluster', nonce: clusters.nonce, version: clusters.version_info });
  });
});
