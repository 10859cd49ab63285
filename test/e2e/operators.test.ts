import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TritonClient } from '../../demo/fake-model-server.ts';
import { main } from '../../src/cli/main.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { eventually } from '../support/eventually.ts';
import { Mesh } from '../support/mesh.ts';
import { RawAdsClient, type RawResponse } from '../support/raw-ads-client.ts';
import { infer, tritonOverXds } from '../support/xds-client.ts';

/**
 * The operator's questions, answered over the real protocol: two proxyless gRPC clients that ACK and a raw
 * ADS client that NACKs; `infermesh status` reads CSDS; the server's rollout state traces the NACK back to
 * the ConfigMap key that produced the rejected version.
 */
const policy = (maxRequests: number, timeout = '30s') => `
model: m
server: triton
backends: [{ name: main, service: svc, port: grpc }]
timeout: ${timeout}
circuitBreaker: { maxRequests: ${maxRequests} }
`;

let mesh: Mesh;
const clients: TritonClient[] = [];
let raw: RawAdsClient;
const node = { id: 'raw-proxy.edge', cluster: 'edge', user_agent_name: 'raw-ads-test' };

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((out += chunk.toString()), done()) });
  const code = await main(argv, sink, new Writable({ write: (_c, _e, done) => done() }));
  return { code, out };
}

/** ACKs (or NACKs) the newest response of a type that arrives after `seen` responses. */
async function answer(type: string, seen: number, nack?: string): Promise<RawResponse> {
  const response = await raw.next((r) => r.type_url === type, seen);
  raw.send({ node, type_url: type, resource_names: type === TYPE_URLS.route ? ['infermesh'] : [], version_info: nack ? '' : response.version_info, response_nonce: response.nonce, ...(nack ? { error_detail: { code: 3, message: nack } } : {}) });
  return response;
}

beforeAll(async () => {
  mesh = await Mesh.start([{ kind: 'triton', host: '127.0.0.81', pod: 'm-0', service: 'svc', models: ['m'], version: '1' }], { 'm-policy': policy(100) });
  for (const id of ['client-a', 'client-b']) {
    const client = tritonOverXds(mesh.channelOptions(id));
    clients.push(client);
    await eventually(async () => expect((await infer(client, { 'x-model': 'm' }, 'm')).ok).toBe(true));
  }
  raw = new RawAdsClient(loadEnvoyProtos(), `127.0.0.1:${mesh.server.xdsPort}`);
  raw.send({ node, type_url: TYPE_URLS.cluster, resource_names: [] });
  await answer(TYPE_URLS.cluster, 0);
  raw.send({ node, type_url: TYPE_URLS.route, resource_names: ['infermesh'] });
  await answer(TYPE_URLS.route, 0);
});

afterAll(async () => {
  raw?.close();
  for (const client of clients) client.close();
  await mesh?.close();
});

describe('operators: is my change live on every proxy?', () => {
  it('shows every proxy SYNCED over CSDS once they ACK', async () => {
    await eventually(async () => {
      const { code, out } = await cli('status', '--server', `127.0.0.1:${mesh.server.xdsPort}`, '-o', 'json');
      expect(code).toBe(0);
      const { proxies } = JSON.parse(out) as { proxies: { node: string; status: string; pod?: string }[] };
      expect(proxies.map((p) => [p.node, p.status])).toEqual([['client-a', 'SYNCED'], ['client-b', 'SYNCED'], ['raw-proxy.edge', 'SYNCED']]);
      expect(proxies[2]?.pod).toBe('raw-proxy');
    });
  });

  it('records convergence once every proxy ACKs a change', async () => {
    const seen = raw.received.length;
    await mesh.writePolicy('m-policy', policy(100, '20s'));
    await answer(TYPE_URLS.route, seen);
    await eventually(() => expect(mesh.server.rollout().find((r) => r.model === 'm')).toMatchObject({ state: 'live', proxies: { relevant: 3, live: 3 } }));
    await eventually(async () => expect(await mesh.metrics()).toMatch(/infermesh_model_convergence_seconds_count [1-9]/));
    // Live everywhere: no problem series for m (manifests/monitoring's alerts read them).
    expect(await mesh.metrics()).not.toMatch(/infermesh_model_problem\{model="m"/);
  });

  it('reports a NACK: the proxy NACKED with its error, the model degraded and traced to its ConfigMap key', async () => {
    const seen = raw.received.length;
    await mesh.writePolicy('m-policy', policy(200));
    await answer(TYPE_URLS.cluster, seen, 'cluster infermesh|m|main: max_requests 200 is over this proxy\'s limit');

    await eventually(() => {
      const m = mesh.server.rollout().find((r) => r.model === 'm');
      expect(m?.state).toBe('degraded');
      expect(m?.proxies.rejected).toEqual([
        expect.objectContaining({ node: 'raw-proxy.edge', pod: 'raw-proxy', namespace: 'edge', type: 'cluster', error: expect.stringContaining('max_requests 200'), causes: [{ model: 'm', source: 'models/m-policy key "policy.yaml" [doc 0]' }] }),
      ]);
    });

    const { code, out } = await cli('status', '--server', `127.0.0.1:${mesh.server.xdsPort}`, '-o', 'json');
    expect(code).toBe(1);
    const { proxies } = JSON.parse(out) as { proxies: { node: string; status: string; lastError?: string }[] };
    expect(proxies.map((p) => [p.node, p.status])).toEqual([['client-a', 'SYNCED'], ['client-b', 'SYNCED'], ['raw-proxy.edge', 'NACKED']]);
    expect(proxies[2]?.lastError).toContain('max_requests 200');

    const table = await cli('status', '--server', `127.0.0.1:${mesh.server.xdsPort}`);
    expect(table.out).toMatch(/raw-proxy\.edge\s+edge\/raw-proxy\s+.*NACKED\s+cluster infermesh\|m\|main: max_requests 200/);

    const byModel = await cli('status', '--server', `127.0.0.1:${mesh.server.xdsPort}`, '--model', 'm', '-o', 'json');
    const placements = (JSON.parse(byModel.out) as { proxies: { node: string; state: string }[] }).proxies;
    expect(Object.fromEntries(placements.map((p) => [p.node, p.state]))).toEqual({ 'client-a': 'live', 'client-b': 'live', 'raw-proxy.edge': 'refused' });
    expect(await mesh.metrics()).toMatch(/infermesh_model_rollout\{state="degraded"\} 1/);
    expect(await mesh.metrics()).toMatch(/infermesh_model_problem\{model="m",problem="degraded"\} 1/);
  });

  it('serves the same answer to any CSDS client, with resource contents unless excluded', async () => {
    const grpc = await import('@grpc/grpc-js');
    const root = loadEnvoyProtos();
    const requestType = root.lookupType('envoy.service.status.v3.ClientStatusRequest');
    const responseType = root.lookupType('envoy.service.status.v3.ClientStatusResponse');
    const client = new grpc.Client(`127.0.0.1:${mesh.server.xdsPort}`, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest('/envoy.service.status.v3.ClientStatusDiscoveryService/StreamClientStatus', (r: object) => Buffer.from(requestType.encode(requestType.fromObject(r)).finish()), (b: Buffer) => responseType.decode(b));
    const response = await new Promise<Record<string, unknown>>((resolve) => {
      call.once('data', (message: protobufMessage) => resolve(responseType.toObject(message, { enums: String, arrays: true })));
      call.write({ node_matchers: [{ node_id: { exact: 'client-a' } }] });
    });
    call.end();
    client.close();
    const configs = response['config'] as { node: { id: string }; generic_xds_configs: { type_url: string; config_status: string; xds_config?: { type_url: string } }[] }[];
    expect(configs.map((c) => c.node.id)).toEqual(['client-a']);
    const listener = configs[0]?.generic_xds_configs.find((c) => c.type_url === TYPE_URLS.listener);
    expect(listener).toMatchObject({ config_status: 'SYNCED', xds_config: { type_url: TYPE_URLS.listener } });
  });
});

type protobufMessage = ReturnType<ReturnType<ReturnType<typeof loadEnvoyProtos>['lookupType']>['decode']>;
