import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { Mesh } from '../support/mesh.ts';
import { RawDeltaClient, type RawDeltaResponse } from '../support/raw-delta-client.ts';

/**
 * Delta ADS end to end with a raw client written against the protocol: wildcard and named subscriptions,
 * one-model changes sent as one resource, removals, NACK without a push loop, and a reconnect with
 * initial_resource_versions that resends only what changed while it was away.
 */
const root = loadEnvoyProtos();
const policy = (name: string, maxRequests = 100) => `model: ${name}\nbackends: [{ name: main, service: svc, port: grpc }]\ncircuitBreaker: { maxRequests: ${maxRequests} }\n`;
const node = { id: 'delta-proxy.edge', cluster: 'edge' };
let mesh: Mesh;
const clients: RawDeltaClient[] = [];

function connect(): RawDeltaClient {
  const client = new RawDeltaClient(root, `127.0.0.1:${mesh.server.xdsPort}`);
  clients.push(client);
  return client;
}

function ack(client: RawDeltaClient, response: RawDeltaResponse, error?: string): void {
  client.send({ node, type_url: response.type_url, response_nonce: response.nonce, ...(error ? { error_detail: { code: 3, message: error } } : {}) });
}

const names = (r: RawDeltaResponse) => r.resources.map((x) => x.name).sort();

beforeAll(async () => {
  mesh = await Mesh.start([{ kind: 'triton', host: '127.0.0.91', pod: 'p', service: 'svc', models: ['a', 'b'], version: '1' }], { a: policy('a'), b: policy('b') });
});

afterAll(async () => {
  for (const client of clients) client.close();
  await mesh?.close();
});

describe('delta ADS', () => {
  let first: RawDeltaClient;
  let clusters: RawDeltaResponse;

  it('answers a wildcard CDS subscription with every cluster and per-resource versions', async () => {
    first = connect();
    first.send({ node, type_url: TYPE_URLS.cluster });
    clusters = await first.next((r) => r.type_url === TYPE_URLS.cluster);
    expect(names(clusters)).toEqual(['infermesh|a|main', 'infermesh|blackhole', 'infermesh|b|main'].sort());
    expect(clusters.resources.every((r) => r.version.length > 0 && r.resource.type_url === TYPE_URLS.cluster)).toBe(true);
    ack(first, clusters);
  });

  it('sends only the changed cluster when one model changes', async () => {
    const seen = first.received.length;
    await mesh.writePolicy('a', policy('a', 200));
    const update = await first.next((r) => r.type_url === TYPE_URLS.cluster, seen);
    expect(names(update)).toEqual(['infermesh|a|main']);
    expect(update.removed_resources).toEqual([]);
    ack(first, update);
  });

  it('reports a removed model\'s cluster in removed_resources', async () => {
    const seen = first.received.length;
    await mesh.writeFileAtomically('b.yaml', '# gone\n');
    const update = await first.next((r) => r.type_url === TYPE_URLS.cluster && r.removed_resources.length > 0, seen);
    expect(update.removed_resources).toEqual(['infermesh|b|main']);
    ack(first, update);
  });

  it('sends named EDS subscriptions, and reports names that do not exist as removed', async () => {
    const seen = first.received.length;
    first.send({ node, type_url: TYPE_URLS.endpoint, resource_names_subscribe: ['infermesh|a|main', 'infermesh|nope|main'] });
    const response = await first.next((r) => r.type_url === TYPE_URLS.endpoint, seen);
    expect(names(response)).toEqual(['infermesh|a|main']);
    expect(response.removed_resources).toEqual(['infermesh|nope|main']);
    ack(first, response);
  });

  it('records a NACK and does not push again for it', async () => {
    const seen = first.received.length;
    await mesh.writePolicy('a', policy('a', 300));
    const update = await first.next((r) => r.type_url === TYPE_URLS.cluster, seen);
    ack(first, update, 'rejected by test');
    const afterNack = first.received.length;
    first.send({ node, type_url: TYPE_URLS.listener });
    await first.next((r) => r.type_url === TYPE_URLS.listener, afterNack);
    expect(first.received.slice(afterNack).map((r) => r.type_url)).toEqual([TYPE_URLS.listener]);
    expect(await mesh.metrics()).toMatch(/infermesh_xds_nacks_total\{type="cluster"\} 1/);
  });

  it('on reconnect with initial_resource_versions, resends only what changed and removes what is gone', async () => {
    const held = Object.fromEntries(clusters.resources.map((r) => [r.name, r.version]));
    // While disconnected: model a changed (twice, above) and model b was removed; blackhole is unchanged.
    const again = connect();
    again.send({ node, type_url: TYPE_URLS.cluster, initial_resource_versions: held });
    const response = await again.next((r) => r.type_url === TYPE_URLS.cluster);
    expect(names(response)).toEqual(['infermesh|a|main']);
    expect(response.removed_resources).toEqual(['infermesh|b|main']);
  });

  it('shows delta clients in CSDS like any other', async () => {
    const stream = mesh.server.xds.streams().find((s) => s.node?.id === node.id && s.syncState().get('endpoint'));
    expect(stream?.syncState().get('cluster')?.lastNack?.message).toBe('rejected by test');
  });
});
