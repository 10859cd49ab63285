/**
 * Limits against abuse on the xDS port (issue 13, "Security"), each tried with a raw gRPC client on loopback
 * against an in-process XdsServer serving 1,000 models: what a client can make the server log, keep, echo
 * through CSDS or send is bounded, and a limit is answered with a gRPC status naming it and its serve flag.
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld, type LastGood } from '../../src/controller/reconcile.ts';
import { backendClusterName, modelTableName } from '../../src/envoy/names.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { createLogger } from '../../src/logging/logger.ts';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { assembleSnapshot } from '../../src/snapshot/assemble.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { Snapshot } from '../../src/snapshot/snapshot.ts';
import type { SourceWorld } from '../../src/sources/types.ts';
import { XdsServer } from '../../src/xds/server.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { DEFAULT_XDS_LIMITS, type XdsLimits } from '../../src/xds/stream-limits.ts';
import { modelPolicy, syntheticWorld } from '../../bench/world.ts';
import { eventually } from '../support/eventually.ts';
import { RawAdsClient, type RawResponse } from '../support/raw-ads-client.ts';
import { RawDeltaClient, type RawDeltaResponse } from '../support/raw-delta-client.ts';

const MODELS = 1000;
const OWN_CONNECTION = { 'grpc.use_local_subchannel_pool': 1 };

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const memoryMb = () => {
  for (let i = 0; i < 3; i += 1) gc();
  const usage = process.memoryUsage();
  return (usage.heapUsed + usage.arrayBuffers) / 2 ** 20;
};

const root = loadEnvoyProtos();
const codec = new ResourceCodec(root);
const snapshots: Snapshot[] = [];
const models = Array.from({ length: MODELS }, (_, i) => `model-${i}`);

function build(world: SourceWorld, lastGood: LastGood, sequence: number): { snapshot: Snapshot; lastGood: LastGood } {
  const reconciled = reconcileWorld(world, lastGood, codec, DEFAULT_SETTINGS);
  const assembled = assembleSnapshot(reconciled.encoded, DEFAULT_SETTINGS, codec, sequence);
  codec.endGeneration();
  if (!assembled.ok) throw new Error(assembled.problems.join('; '));
  return { snapshot: assembled.snapshot, lastGood: reconciled.lastGood };
}

/** Every line the server logs (pino JSON, at info as `serve` runs unless told), and their bytes. */
class LogCapture {
  bytes = 0;
  readonly lines: Record<string, unknown>[] = [];
  readonly logger;

  constructor(level = 'info') {
    this.logger = createLogger(level, {
      write: (line: string) => {
        this.bytes += Buffer.byteLength(line);
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    });
  }

  withMessage(prefix: string): Record<string, unknown>[] {
    return this.lines.filter((line) => String(line['msg']).startsWith(prefix));
  }
}

interface Running {
  server: XdsServer;
  store: SnapshotStore;
  address: string;
  metrics: Metrics;
  logs: LogCapture;
  clients: { close(): void }[];
}
let running: Running | undefined;

async function start(limits: Partial<XdsLimits> = {}, logLevel = 'info'): Promise<Running> {
  const store = new SnapshotStore();
  store.set(snapshots[0]!);
  const metrics = createMetrics();
  const logs = new LogCapture(logLevel);
  const server = new XdsServer({ root, snapshots: store, logger: logs.logger, metrics, controlPlaneId: 'abuse-test', limits });
  const port = await server.listen('127.0.0.1:0');
  running = { server, store, address: `127.0.0.1:${port}`, metrics, logs, clients: [] };
  return running;
}

function sotw(options: grpc.ChannelOptions = {}): RawAdsClient {
  const client = new RawAdsClient(root, running!.address, options);
  running!.clients.push(client);
  return client;
}

function delta(options: grpc.ChannelOptions = {}): RawDeltaClient {
  const client = new RawDeltaClient(root, running!.address, options);
  running!.clients.push(client);
  return client;
}

async function counter(metric: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  return values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want)).reduce((sum, v) => sum + v.value, 0);
}

/** The encoded FetchClientStatus answer, as any CSDS client receives it. */
async function csds(address: string, request: Record<string, unknown>): Promise<Buffer> {
  const type = root.lookupType('envoy.service.status.v3.ClientStatusRequest');
  const client = new grpc.Client(address, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  try {
    return await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(
        '/envoy.service.status.v3.ClientStatusDiscoveryService/FetchClientStatus',
        (r: Record<string, unknown>) => Buffer.from(type.encode(type.fromObject(r)).finish()),
        (bytes: Buffer) => bytes,
        request,
        (error, value) => (error || !value ? reject(error ?? new Error('no answer')) : resolve(value)),
      ),
    );
  } finally {
    client.close();
  }
}

const NOT_ENDED = Symbol('not ended');
const endedYet = (client: RawAdsClient | RawDeltaClient) => Promise.race([client.status, new Promise<typeof NOT_ENDED>((resolve) => setTimeout(() => resolve(NOT_ENDED), 50))]);

beforeAll(() => {
  const world = syntheticWorld(MODELS);
  let built = build(world, EMPTY_LAST_GOOD, 1);
  snapshots.push(built.snapshot);
  for (let s = 2; s <= 6; s += 1) {
    for (let j = 0; j < 5; j += 1) world.configMaps[(s * 7 + j) % MODELS] = modelPolicy((s * 7 + j) % MODELS, 10 + s * 10 + j);
    built = build(world, built.lastGood, s);
    snapshots.push(built.snapshot);
  }
}, 120_000);

afterEach(async () => {
  for (const client of running?.clients ?? []) client.close();
  await running?.server.close(1_000);
  running = undefined;
});

describe('limits against abuse on the xDS port (1,000 models)', () => {
  for (const protocol of ['sotw', 'delta'] as const) {
    it(`${protocol}: 5,000 NACKs of 10 KB on one stream log a few lines and counts, not 50 MB (at debug level)`, async () => {
      // The request rate is its own limit (below): here it must not end the stream first.
      const { metrics, logs } = await start({ requestBurst: 100_000 }, 'debug');
      const NACKS = 5_000;
      const detail = { code: 3, message: `rejected: ${'x'.repeat(10_240)}` };
      const isListener = (r: { type_url: string }) => r.type_url === TYPE_URLS.listener;
      // Requests are handled in order: the answer to a last request says every NACK before it was.
      if (protocol === 'sotw') {
        const client = sotw();
        client.send({ node: { id: 'nacker' }, type_url: TYPE_URLS.cluster });
        const response = await client.next((r) => r.type_url === TYPE_URLS.cluster);
        for (let i = 0; i < NACKS; i += 1) client.send({ type_url: TYPE_URLS.cluster, response_nonce: response.nonce, error_detail: detail });
        client.send({ type_url: TYPE_URLS.listener });
        await client.next(isListener);
      } else {
        const client = delta();
        client.send({ node: { id: 'nacker' }, type_url: TYPE_URLS.cluster, resource_names_subscribe: ['*'] });
        const response = await client.next((r) => r.type_url === TYPE_URLS.cluster);
        for (let i = 0; i < NACKS; i += 1) client.send({ type_url: TYPE_URLS.cluster, response_nonce: response.nonce, error_detail: detail });
        client.send({ type_url: TYPE_URLS.listener, resource_names_subscribe: ['*'] });
        await client.next(isListener);
      }
      running!.clients.forEach((client) => client.close());
      await eventually(() => expect(logs.withMessage('xDS stream closed')).toHaveLength(1));

      // A SotW client may NACK the same response again and again; a delta one once, the rest are ignored (stale nonce).
      const nacks = await counter(metrics.nacks);
      expect(nacks).toBe(protocol === 'sotw' ? NACKS : 1);
      const unlogged = (logs.withMessage('xDS stream closed')[0]!['unloggedEvents'] ?? {}) as Record<string, number>;
      const nackLines = logs.withMessage('NACK');
      const ignoredLines = logs.withMessage('request ignored');
      console.log(
        `${protocol}: ${NACKS} NACKs of 10 KB -> ${logs.lines.length} log lines, ${logs.bytes} bytes (unsampled: ~${((NACKS * 10_300) / 2 ** 20).toFixed(0)} MB); counted at close: ${JSON.stringify(unlogged)}`,
      );
      expect(logs.bytes).toBeLessThan(200 * 1024);
      expect(nackLines.length).toBeGreaterThanOrEqual(1);
      expect(nackLines.length + (unlogged['nack:cluster'] ?? 0)).toBe(nacks);
      expect(ignoredLines.length + (unlogged['ignored'] ?? 0)).toBe(NACKS - nacks);
      for (const line of nackLines) expect(String(line['error']).length).toBeLessThan(1_100);
    }, 90_000);
  }

  it('a 1 MB node id is refused with INVALID_ARGUMENT naming the limit, and 20 tries log a few KB, not 40 MB', async () => {
    const { server, metrics, logs } = await start();
    const id = 'n'.repeat(1024 * 1024);
    const statuses = [];
    for (let i = 0; i < 20; i += 1) {
      const client = i % 2 === 0 ? sotw() : delta();
      client.send(i % 2 === 0 ? { node: { id }, type_url: TYPE_URLS.listener } : { node: { id }, type_url: TYPE_URLS.listener, resource_names_subscribe: ['*'] });
      statuses.push(await client.status);
      client.close();
    }
    for (const status of statuses) {
      expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(status.details).toContain(`at most ${DEFAULT_XDS_LIMITS.maxNodeBytes}`);
      expect(status.details).toContain('--max-xds-node-bytes');
    }
    await eventually(() => expect(server.streams()).toHaveLength(0));
    expect(await counter(metrics.refusedStreams, { reason: 'node_too_large' })).toBe(20);
    console.log(`1 MB node id x 20: ${logs.lines.length} log lines, ${logs.bytes} bytes`);
    expect(logs.bytes).toBeLessThan(32 * 1024);
  }, 60_000);

  it('40 streams with 3.5 MB of node metadata are refused: CSDS and memory stay bounded; 40 nodes under the bound are echoed', async () => {
    const { server, address } = await start();
    // protobufjs's Struct wants camelCase here (string_value would be dropped, and the node sent small).
    const metadata = (bytes: number) => ({ fields: { blob: { stringValue: 'm'.repeat(bytes) } } });
    const before = memoryMb();
    // The clients live in this process too: they are let go of before measuring, so what stays is the server's.
    const statuses = await (async () => {
      const fat = Array.from({ length: 40 }, (_, i) => {
        const client = new RawAdsClient(root, address);
        client.send({ node: { id: `fat-${i}`, metadata: metadata(3.5 * 1024 * 1024) }, type_url: TYPE_URLS.listener });
        return client;
      });
      const ended = await Promise.all(fat.map((client) => client.status));
      fat.forEach((client) => client.close());
      return ended;
    })();
    for (const status of statuses) expect(status.code).toBe(grpc.status.INVALID_ARGUMENT);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const growthMb = memoryMb() - before;

    const near = DEFAULT_XDS_LIMITS.maxNodeBytes - 1024;
    const fine = Array.from({ length: 40 }, (_, i) => {
      const client = sotw();
      client.send({ node: { id: `fine-${i}`, metadata: metadata(near) }, type_url: TYPE_URLS.listener });
      return client;
    });
    await Promise.all(fine.map((client) => client.next((r) => r.type_url === TYPE_URLS.listener)));
    await eventually(() => expect(server.streams()).toHaveLength(40));
    const answer = await csds(address, { exclude_resource_contents: true });
    const full = await csds(address, {});
    console.log(`40 x 3.5 MB metadata: refused; memory +${growthMb.toFixed(1)} MB. CSDS with 40 nodes of ${near} bytes of metadata: ${answer.length} bytes (${full.length} with contents)`);
    expect(growthMb).toBeLessThan(32);
    // Each node is echoed whole, and no node can be larger than the bound.
    expect(answer.length).toBeGreaterThan(40 * near);
    expect(answer.length).toBeLessThan(40 * (DEFAULT_XDS_LIMITS.maxNodeBytes + 4 * 1024));
    expect(answer.includes(Buffer.from('fat-'))).toBe(false);
  }, 120_000);

  it('a stream over the replica limit gets RESOURCE_EXHAUSTED naming --max-xds-streams; a freed place is taken again', async () => {
    const { server, metrics } = await start({ maxStreams: 5 });
    const clients = Array.from({ length: 5 }, (_, i) => {
      const client = sotw(OWN_CONNECTION);
      client.send({ node: { id: `ok-${i}` }, type_url: TYPE_URLS.listener });
      return client;
    });
    await Promise.all(clients.map((client) => client.next((r) => r.type_url === TYPE_URLS.listener)));
    const extra = delta(OWN_CONNECTION);
    extra.send({ node: { id: 'extra' }, type_url: TYPE_URLS.listener, resource_names_subscribe: ['*'] });
    const status = await extra.status;
    expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(status.details).toContain('at most 5 ADS streams');
    expect(status.details).toContain('--max-xds-streams');
    expect(await counter(metrics.refusedStreams, { reason: 'max_streams' })).toBe(1);
    for (const client of clients) expect(await endedYet(client)).toBe(NOT_ENDED);

    clients[0]!.close();
    await eventually(() => expect(server.streams()).toHaveLength(4));
    const next = sotw(OWN_CONNECTION);
    next.send({ node: { id: 'next' }, type_url: TYPE_URLS.listener });
    await next.next((r) => r.type_url === TYPE_URLS.listener);
  }, 30_000);

  it('a stream over the per-connection limit gets RESOURCE_EXHAUSTED naming --max-xds-streams-per-connection', async () => {
    const { metrics } = await start({ maxStreamsPerConnection: 3 });
    // Without a pool of their own, clients of one address share one connection (grpc-js).
    const shared = Array.from({ length: 4 }, (_, i) => {
      const client = delta();
      client.send({ node: { id: `shared-${i}` }, type_url: TYPE_URLS.listener, resource_names_subscribe: ['*'] });
      return client;
    });
    const outcomes = await Promise.all(shared.map((client) => Promise.race([client.next((r) => r.type_url === TYPE_URLS.listener).then(() => 'served' as const), client.status])));
    const refused = outcomes.filter((o): o is grpc.StatusObject => o !== 'served');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(refused[0]!.details).toContain('--max-xds-streams-per-connection');
    expect(await counter(metrics.refusedStreams, { reason: 'max_streams_per_connection' })).toBe(1);
    // Another connection is not held to the first one's count.
    const own = delta(OWN_CONNECTION);
    own.send({ node: { id: 'own' }, type_url: TYPE_URLS.listener, resource_names_subscribe: ['*'] });
    await own.next((r) => r.type_url === TYPE_URLS.listener);
  }, 30_000);

  for (const protocol of ['sotw', 'delta'] as const) {
    it(`${protocol}: a flood of 10,000 small requests ends the stream with RESOURCE_EXHAUSTED, with bounded responses`, async () => {
      const { metrics, logs } = await start();
      const FLOOD = 10_000;
      const request = protocol === 'sotw' ? { type_url: TYPE_URLS.cluster } : { type_url: TYPE_URLS.cluster, resource_names_subscribe: ['*'] };
      const isCluster = (r: { type_url: string }) => r.type_url === TYPE_URLS.cluster;
      let client: RawAdsClient | RawDeltaClient;
      let first: { resources: unknown[] };
      if (protocol === 'sotw') {
        const own = (client = sotw());
        own.send({ ...request, node: { id: 'flood' } });
        first = await own.next(isCluster);
      } else {
        const own = (client = delta());
        own.send({ ...request, node: { id: 'flood' } });
        first = await own.next(isCluster);
      }
      for (let i = 1; i < FLOOD; i += 1) client.send(request);
      const status = await client.status;
      expect(status.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(status.details).toContain('--xds-request-rate');
      expect(await counter(metrics.refusedStreams, { reason: 'request_rate' })).toBe(1);
      await eventually(() => expect(running!.server.streams()).toHaveLength(0));
      const responses = client.received.length;
      const pushed = await counter(metrics.pushedBytes);
      console.log(`${protocol} flood of ${FLOOD}: ${responses} responses received, ${pushed} resource bytes pushed (one full answer: ${first.resources.length} resources); ${logs.lines.length} log lines, ${logs.bytes} bytes`);
      // Whatever the requests repeat, what they cost is capped by the burst: never more responses than requests served.
      expect(responses).toBeLessThanOrEqual(3);
      expect(logs.bytes).toBeLessThan(16 * 1024);
    }, 60_000);
  }

  it('normal clients are never limited: a SotW client of five types through churn and resubscriptions, a delta client loading 300 models on demand at once', async () => {
    const { server, metrics, logs } = await start();
    const tables = (names: string[]) => names.map((model) => modelTableName(DEFAULT_SETTINGS.grpcTarget, model));
    const clusters = (names: string[]) => names.flatMap((model) => [backendClusterName(model, 'stable'), backendClusterName(model, 'canary')]);

    // SotW, as Envoy over SotW: LDS, SRDS and CDS whole, RDS and EDS by name, every response ACKed.
    const names = new Map<string, string[]>([
      [TYPE_URLS.listener, []],
      [TYPE_URLS.scopedRoute, []],
      [TYPE_URLS.cluster, []],
      [TYPE_URLS.route, tables(models.slice(0, 10))],
      [TYPE_URLS.endpoint, clusters(models)],
    ]);
    const envoy = sotw(OWN_CONNECTION);
    envoy.onResponse((r: RawResponse) => envoy.send({ type_url: r.type_url, version_info: r.version_info, response_nonce: r.nonce, resource_names: names.get(r.type_url) }));
    for (const [typeUrl, resourceNames] of names) envoy.send({ node: { id: 'envoy-sotw' }, type_url: typeUrl, resource_names: resourceNames });

    // Delta, as an on-demand sidecar whose application calls 300 models at once: a subscription per model and type.
    const onDemand = delta(OWN_CONNECTION);
    let onDemandRequests = 2 + 300 * 3;
    onDemand.onResponse((r: RawDeltaResponse) => {
      onDemandRequests += 1;
      onDemand.send({ type_url: r.type_url, response_nonce: r.nonce });
    });
    onDemand.send({ node: { id: 'envoy-delta' }, type_url: TYPE_URLS.listener, resource_names_subscribe: ['*'] });
    onDemand.send({ type_url: TYPE_URLS.scopedRoute, resource_names_subscribe: ['*'] });
    const called = models.slice(0, 300);
    for (const model of called) {
      onDemand.send({ type_url: TYPE_URLS.route, resource_names_subscribe: tables([model]) });
      onDemand.send({ type_url: TYPE_URLS.cluster, resource_names_subscribe: clusters([model]) });
      onDemand.send({ type_url: TYPE_URLS.endpoint, resource_names_subscribe: clusters([model]) });
    }

    // Resubscriptions (the SotW client's routes move over 50 sets of models) and five new snapshots.
    for (let i = 1; i <= 50; i += 1) {
      names.set(TYPE_URLS.route, tables(models.slice(i * 10, i * 10 + 10)));
      envoy.send({ type_url: TYPE_URLS.route, resource_names: names.get(TYPE_URLS.route), version_info: '', response_nonce: '' });
      if (i % 10 === 0) running!.store.set(snapshots[i / 10]!);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const byNode = (id: string) => () => server.streams().find((s) => s.node?.id === id);
    const sotwStream = byNode('envoy-sotw');
    const deltaStream = byNode('envoy-delta');
    await eventually(
      () => {
        const routes = deltaStream()?.syncState().get('route');
        expect(routes?.ackedResources.size).toBe(300);
        expect(deltaStream()?.syncState().get('cluster')?.ackedResources.size).toBe(600);
        const sotwRoutes = sotwStream()?.syncState().get('route');
        expect([...(sotwRoutes?.ackedResources.keys() ?? [])].sort()).toEqual([...(names.get(TYPE_URLS.route) ?? [])].sort());
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    console.log(`on-demand delta client: ${onDemandRequests} requests within ${DEFAULT_XDS_LIMITS.requestBurst} of burst`);
    // The storm is a real share of the burst, not a trickle that could not have tripped it.
    expect(onDemandRequests).toBeGreaterThan(DEFAULT_XDS_LIMITS.requestBurst / 2);
    expect(await endedYet(envoy)).toBe(NOT_ENDED);
    expect(await endedYet(onDemand)).toBe(NOT_ENDED);
    expect(await counter(metrics.refusedStreams)).toBe(0);
    expect(logs.lines.filter((line) => Number(line['level']) >= 40)).toEqual([]);
  }, 60_000);
});
