/**
 * The network rows of `npm run bench`: the server as in production (controller with debounce, snapshot store,
 * ADS server) against simulated sidecars that subscribe the way the project's Envoys do (delta, on demand,
 * bench/ads-clients.ts) and simulated proxyless gRPC clients on per-model targets (SotW,
 * bench/proxyless-client.ts); beside the floor, a bare grpc-js server writing the same bytes to the same
 * streams (bench/floor-server.ts). Each client calls a few models (bench/called-models.ts); the change rows
 * edit model-0, which every tenth client calls.
 */
import type protobuf from 'protobufjs';
import { Controller } from '../src/controller/controller.ts';
import { modelTableName, backendClusterName } from '../src/envoy/names.ts';
import { TYPE_URLS, kindOfTypeUrl, wildcardCapable } from '../src/envoy/type-urls.ts';
import { silentLogger } from '../src/logging/logger.ts';
import { createMetrics } from '../src/metrics/metrics.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { ResourceCodec } from '../src/snapshot/codec.ts';
import { versionOf, type Snapshot } from '../src/snapshot/snapshot.ts';
import { encodeDeltaDiscoveryResponse } from '../src/xds/delta-messages.ts';
import { encodeDiscoveryResponse } from '../src/xds/messages.ts';
import { XdsServer } from '../src/xds/server.ts';
import { SnapshotStore } from '../src/xds/snapshot-store.ts';
import { CHANGED_MODEL } from './called-models.ts';
import { Clients } from './clients.ts';
import { FloorServer } from './floor-server.ts';
import { MemorySource } from './memory-source.ts';
import { modelPolicy, syntheticWorld } from './world.ts';

type Report = { lastAck: Record<string, number>; bytes: number; responses: number; byType: Record<string, number>; usesChanged: boolean }[];

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};
const mean = (values: number[]) => (values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 0);
const fmt = (n: number, unit = 'ms') => (Number.isFinite(n) ? `${n >= 100 ? n.toFixed(0) : n.toFixed(1)} ${unit}` : 'n/a');
const kb = (n: number) => `${(n / 1024).toFixed(2)} KB`;
const ratio = (value: number, floor: number) => (Number.isFinite(value) && floor > 0 ? `${(value / floor).toFixed(1)}x` : '-');

/** Mean bytes per client of each type, keyed by the type's last name segment (Listener, Cluster, ...). */
function meanByType(report: Report): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const r of report) for (const [type, bytes] of Object.entries(r.byType)) sums[type.slice(type.lastIndexOf('.') + 1)] = (sums[type.slice(type.lastIndexOf('.') + 1)] ?? 0) + bytes;
  return Object.fromEntries(Object.entries(sums).map(([type, sum]) => [type, Math.round(sum / Math.max(1, report.length))]));
}
const byTypeNote = (byType: Record<string, number>) => Object.entries(byType).map(([type, bytes]) => `${type} ${kb(bytes)}`).join(', ');

interface ChangeFigures {
  /** When the store published the snapshot with the change (the server's own rebuild, debounce included). */
  publishedMs: number;
  byTypePerUser: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  users: number;
  acked: number;
  bytesPerUser: number;
  maxBytesPerUser: number;
  bytesToOthers: number;
  othersReached: number;
}

/**
 * Runs `act` after a mark and waits until every client that calls the changed model has ACKed `typeUrl`,
 * then 500 ms more, so that whatever else the change sends (to them or to anyone else) is counted too.
 */
async function afterChange(clients: Clients, typeUrl: string, act: () => void, publishedAt: () => number = () => NaN): Promise<ChangeFigures> {
  await clients.send({ cmd: 'mark' });
  const t0 = Date.now();
  act();
  const deadline = Date.now() + 120_000;
  for (;;) {
    const report = await clients.send<Report>({ cmd: 'report' });
    if (report.filter((r) => r.usesChanged).every((r) => r.lastAck[typeUrl] !== undefined) || Date.now() > deadline) break;
    await sleep(20);
  }
  await sleep(500);
  const report = await clients.send<Report>({ cmd: 'report' });
  const users = report.filter((r) => r.usesChanged);
  const others = report.filter((r) => !r.usesChanged);
  const latencies = users.flatMap((r) => (r.lastAck[typeUrl] === undefined ? [] : [(r.lastAck[typeUrl] ?? NaN) - t0]));
  return {
    publishedMs: publishedAt() - t0,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    users: users.length,
    acked: latencies.length,
    bytesPerUser: mean(users.map((r) => r.bytes)),
    byTypePerUser: meanByType(users),
    maxBytesPerUser: Math.max(...users.map((r) => r.bytes)),
    bytesToOthers: others.reduce((sum, r) => sum + r.bytes, 0),
    othersReached: others.filter((r) => r.responses > 0).length,
  };
}

type Synced = { syncedMs: number; unsynced: number; missing: string[] };
const syncNote = (s: { unsynced: number }) => (s.unsynced > 0 ? `; ${s.unsynced} NOT in sync when timed out` : '');

/** Connects `count` clients and reads what each was sent to get there. */
async function connect(clients: Clients, port: number, count: number, models: number, proxyless: boolean) {
  const { syncedMs, unsynced, missing } = await clients.send<Synced>({ cmd: 'connect', target: `127.0.0.1:${port}`, count, models, proxyless });
  if (unsynced > 0) console.log(`${unsynced} of ${count} clients not in sync, e.g. ${missing.join('; ')}`);
  const report = await clients.send<Report>({ cmd: 'report' });
  return { syncedMs, unsynced, bytesPerClient: mean(report.map((r) => r.bytes)), maxBytes: Math.max(...report.map((r) => r.bytes)), byType: meanByType(report) };
}

/** Every new stream has all five types in sync with the current snapshot, read from the server's own state. */
async function warmReconnect(clients: Clients, server: XdsServer, store: SnapshotStore, count: number): Promise<{ syncedMs: number }> {
  const { startedAt } = await clients.send<{ startedAt: number }>({ cmd: 'reconnect', warm: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    const sequence = store.current()?.sequence;
    const fresh = server.streams().filter((stream) => stream.connectedAt.getTime() >= startedAt);
    const synced = fresh.filter((stream) => stream.syncState().size === 5 && [...stream.syncState().values()].every((state) => state.syncedThrough === sequence));
    if (synced.length >= count || Date.now() > deadline) return { syncedMs: Date.now() - startedAt };
    await sleep(10);
  }
}

/** The floor's answers: the snapshot's resources for the names asked (wildcard where Envoy may ask so), encoded once per distinct request. */
function floorAnswers(snapshot: Snapshot) {
  const cache = new Map<string, Buffer | undefined>();
  return (typeUrl: string, names: readonly string[], delta: boolean): Buffer | undefined => {
    const key = `${delta}|${typeUrl}|${names.join(',')}`;
    if (cache.has(key)) return cache.get(key);
    const kind = kindOfTypeUrl(typeUrl);
    let bytes: Buffer | undefined;
    if (kind && (names.length > 0 || wildcardCapable(kind))) {
      const selected = snapshot.select(kind, names.length > 0 ? new Set(names) : 'wildcard');
      bytes = delta
        ? encodeDeltaDiscoveryResponse({ systemVersionInfo: '', resources: selected, typeUrl, removed: [], nonce: '1', controlPlaneId: 'floor' })
        : encodeDiscoveryResponse({ versionInfo: versionOf(selected), resources: selected.map((r) => r.any), typeUrl, nonce: '1', controlPlaneId: 'floor' });
    }
    cache.set(key, bytes);
    return bytes;
  };
}

export async function measureNetwork(root: protobuf.Root, count: number, models: number): Promise<{ rows: string[][]; results: Record<string, unknown> }> {
  const source = new MemorySource(syntheticWorld(models));
  const store = new SnapshotStore();
  const metrics = createMetrics();
  const controller = new Controller({ source, store, codec: new ResourceCodec(root), settings: DEFAULT_SETTINGS, logger: silentLogger(), metrics });
  const server = new XdsServer({ root, snapshots: store, logger: silentLogger(), metrics, controlPlaneId: 'bench' });
  const port = await server.listen('127.0.0.1:0');
  let publishedAt = NaN;
  store.subscribe(() => (publishedAt = Date.now()));
  await controller.start();

  const sidecars = new Clients();
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const initial = await connect(sidecars, port, count, models, false);
  gc();
  const heapPerClient = (process.memoryUsage().heapUsed - heapBefore) / count;
  const weights = await afterChange(sidecars, TYPE_URLS.route, () => source.change((world) => (world.configMaps[0] = modelPolicy(0, 50))), () => publishedAt);
  const endpoints = await afterChange(sidecars, TYPE_URLS.endpoint, () =>
    source.change((world) => {
      const slice = world.endpointSlices[0];
      if (slice) world.endpointSlices[0] = { ...slice, endpoints: slice.endpoints.slice(1) };
    }),
    () => publishedAt,
  );
  const storm = await sidecars.send<Synced>({ cmd: 'reconnect' });
  const warmStorm = await warmReconnect(sidecars, server, store, count);
  await sidecars.send({ cmd: 'close' });
  const proxylessClients = new Clients();
  const proxyless = await connect(proxylessClients, port, count, models, true);
  await proxylessClients.send({ cmd: 'close' });
  const last = store.current();
  controller.stop();
  await server.close(1_000);
  if (!last) throw new Error('no snapshot');

  // The floor with the same bytes. A first connect fills its cache of encoded answers; the measured sync is a
  // second, cold one (every client subscribes again from nothing), which is also its reconnect storm.
  const floor = new FloorServer(floorAnswers(last));
  const floorPort = await floor.listen();
  const floorSidecars = new Clients();
  const floorBytes = await connect(floorSidecars, floorPort, count, models, false);
  const floorInitial = await floorSidecars.send<Synced>({ cmd: 'reconnect' });
  const push = (typeUrl: string, name: string) => {
    const kind = kindOfTypeUrl(typeUrl);
    const resources = kind ? last.select(kind, new Set([name])) : [];
    const bytes = encodeDeltaDiscoveryResponse({ systemVersionInfo: '', resources, typeUrl, removed: [], nonce: '2', controlPlaneId: 'floor' });
    return afterChange(floorSidecars, typeUrl, () => floor.pushToSubscribers(typeUrl, name, bytes));
  };
  const floorWeights = await push(TYPE_URLS.route, modelTableName(DEFAULT_SETTINGS.grpcTarget, CHANGED_MODEL));
  const floorEndpoints = await push(TYPE_URLS.endpoint, backendClusterName(CHANGED_MODEL, 'stable'));
  await floorSidecars.send({ cmd: 'close' });
  const floorProxyless = new Clients();
  const floorProxylessBytes = await connect(floorProxyless, floorPort, count, models, true);
  const floorProxylessSync = await floorProxyless.send<Synced>({ cmd: 'reconnect' });
  await floorProxyless.send({ cmd: 'close' });
  floor.close();

  const results = { initial, heapPerClient, weights, endpoints, storm, warmStorm, proxyless, floor: { initial: floorInitial, weights: floorWeights, endpoints: floorEndpoints, proxyless: floorProxylessSync } };
  const scale = `${count} sidecars x ${models} models`;
  const rows: string[][] = [];
  rows.push([`sidecars: initial sync, ${scale}`, fmt(initial.syncedMs), fmt(floorInitial.syncedMs), ratio(initial.syncedMs, floorInitial.syncedMs), `delta ADS; LDS+SRDS wildcard, RDS/CDS/EDS by name for the 3 models each calls${syncNote(initial)}${syncNote(floorInitial)}`]);
  rows.push([`sidecars: initial configuration bytes per sidecar`, kb(initial.bytesPerClient), kb(floorBytes.bytesPerClient), ratio(initial.bytesPerClient, floorBytes.bytesPerClient), `max ${kb(initial.maxBytes)}; ${byTypeNote(initial.byType)}`]);
  for (const [label, c, f] of [['weights of one model (RDS)', weights, floorWeights], ['endpoints of one model (EDS)', endpoints, floorEndpoints]] as const) {
    const who = `${c.acked}/${c.users} sidecars that call it ACKed`;
    rows.push([`${label} -> users ACKed p50`, fmt(c.p50), fmt(f.p50), ratio(c.p50, f.p50), `debounce (100 ms) included; snapshot published after ${fmt(c.publishedMs)}`]);
    rows.push([`${label} -> users ACKed p99`, fmt(c.p99), fmt(f.p99), ratio(c.p99, f.p99), 'target p99 <= 1 s']);
    rows.push([`${label} -> users ACKed max`, fmt(c.max), fmt(f.max), ratio(c.max, f.max), who]);
    rows.push([`${label}: bytes per sidecar that calls it`, kb(c.bytesPerUser), kb(f.bytesPerUser), ratio(c.bytesPerUser, f.bytesPerUser), `max ${kb(c.maxBytesPerUser)}; ${byTypeNote(c.byTypePerUser)}; target <= 2 KB`]);
    rows.push([`${label}: bytes to sidecars that do not call it`, `${c.bytesToOthers} B`, `${f.bytesToOthers} B`, '-', `${c.othersReached} of ${count - c.users} reached; target 0`]);
  }
  rows.push(['sidecars: server heap per connected sidecar', kb(heapPerClient), '-', '-', 'target <= 100 KB']);
  rows.push([`reconnect storm, sidecars restarted: ${count} -> all synced`, fmt(storm.syncedMs), fmt(floorInitial.syncedMs), ratio(storm.syncedMs, floorInitial.syncedMs), `target <= 10 s${syncNote(storm)}`]);
  rows.push([`reconnect storm, sidecars keep config: ${count} -> all synced`, fmt(warmStorm.syncedMs), fmt(floorInitial.syncedMs), ratio(warmStorm.syncedMs, floorInitial.syncedMs), 'initial_resource_versions; read from the server']);
  rows.push([`proxyless: initial sync, ${count} clients on per-model targets`, fmt(proxyless.syncedMs), fmt(floorProxylessSync.syncedMs), ratio(proxyless.syncedMs, floorProxylessSync.syncedMs), `SotW; LDS+RDS infermesh/<model>, CDS+EDS its clusters${syncNote(proxyless)}${syncNote(floorProxylessSync)}`]);
  rows.push(['proxyless: initial configuration bytes per client', kb(proxyless.bytesPerClient), kb(floorProxylessBytes.bytesPerClient), ratio(proxyless.bytesPerClient, floorProxylessBytes.bytesPerClient), `max ${kb(proxyless.maxBytes)}; ${byTypeNote(proxyless.byType)}`]);
  return { rows, results };
}
