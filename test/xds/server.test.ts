import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { assembleSnapshot } from '../../src/snapshot/assemble.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { Snapshot } from '../../src/snapshot/snapshot.ts';
import { XdsServer } from '../../src/xds/server.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { eventually } from '../support/eventually.ts';
import { RawAdsClient } from '../support/raw-ads-client.ts';

type Root = ReturnType<typeof loadEnvoyProtos>;
let root: Root;
let snapshot: Snapshot;
let running: { server: XdsServer; clients: RawAdsClient[] } | undefined;

beforeAll(() => {
  root = loadEnvoyProtos();
  const assembled = assembleSnapshot([], DEFAULT_SETTINGS, new ResourceCodec(root), 1);
  if (!assembled.ok) throw new Error(assembled.problems.join());
  snapshot = assembled.snapshot;
});

afterEach(async () => {
  for (const client of running?.clients ?? []) client.close();
  await running?.server.close(1_000);
  running = undefined;
});

async function start(store: SnapshotStore, metrics: Metrics = createMetrics()): Promise<{ server: XdsServer; port: number }> {
  const server = new XdsServer({ root, snapshots: store, logger: silentLogger(), metrics, controlPlaneId: 'test' });
  const port = await server.listen('127.0.0.1:0');
  running = { server, clients: [] };
  return { server, port };
}

function connect(port: number): RawAdsClient {
  const client = new RawAdsClient(root, `127.0.0.1:${port}`);
  running?.clients.push(client);
  return client;
}

describe('XdsServer', () => {
  it('answers nothing until the first snapshot exists, then answers waiting streams', async () => {
    const store = new SnapshotStore();
    const { server, port } = await start(store);
    const client = connect(port);
    client.send({ node: { id: 'early' }, type_url: TYPE_URLS.cluster });
    await eventually(() => expect(server.streams()[0]?.syncState().has('cluster')).toBe(true));
    expect(client.received).toEqual([]);
    store.set(snapshot);
    const response = await client.next((r) => r.type_url === TYPE_URLS.cluster);
    expect(response.resources.map((r) => r.type_url)).toEqual([TYPE_URLS.cluster]);
  });

  it('serves 50 concurrent streams from the same encoded bytes, and counts their ACKs', async () => {
    const store = new SnapshotStore();
    store.set(snapshot);
    const metrics = createMetrics();
    const { port } = await start(store, metrics);
    const clients = Array.from({ length: 50 }, () => connect(port));
    clients.forEach((client, i) => client.send({ node: { id: `n${i}` }, type_url: TYPE_URLS.listener }));
    const responses = await Promise.all(clients.map((client) => client.next((r) => r.type_url === TYPE_URLS.listener)));
    const payloads = new Set(responses.map((r) => Buffer.from(r.resources[0]!.value).toString('base64')));
    expect(payloads.size).toBe(1);
    expect(responses.every((r) => r.version_info === responses[0]!.version_info)).toBe(true);
    clients.forEach((client, i) => client.send({ node: { id: `n${i}` }, type_url: TYPE_URLS.listener, version_info: responses[i]!.version_info, response_nonce: responses[i]!.nonce }));
    await eventually(async () => expect(await metrics.registry.getSingleMetricAsString('infermesh_xds_acks_total')).toContain('infermesh_xds_acks_total{type="listener"} 50'));
    expect(await metrics.registry.getSingleMetricAsString('infermesh_xds_connected_streams')).toContain('infermesh_xds_connected_streams 50');
  });

  it('closes gracefully with streams open', async () => {
    const store = new SnapshotStore();
    store.set(snapshot);
    const { server, port } = await start(store);
    const client = connect(port);
    client.send({ node: { id: 'x' }, type_url: TYPE_URLS.cluster });
    await client.next((r) => r.type_url === TYPE_URLS.cluster);
    await server.close(1_000);
    expect(server.streams()).toEqual([]);
    running = undefined;
    client.close();
  });
});
