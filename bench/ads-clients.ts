/**
 * The simulated data plane for `npm run bench`: a child process holding N ADS streams (real grpc-js HTTP/2
 * on loopback) that subscribe the way the project's Envoy sidecars do, over delta ADS only (SotW sidecars no
 * longer exist): LDS and SRDS wildcard, RDS by name for the tables of the models the sidecar calls
 * (bench/called-models.ts), CDS by name for the clusters those tables name plus the blackhole (on-demand
 * CDS), EDS for those clusters. Every response is ACKed. Driven over IPC by bench/run.ts; runs in its own
 * process so the server under test keeps a core to itself.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { BLACKHOLE_CLUSTER, modelTableName } from '../src/envoy/names.ts';
import { TYPE_URLS } from '../src/envoy/type-urls.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { modelsCalledBy, usesChangedModel } from './called-models.ts';
import { channel, clustersOfRouteAny, root, type Tally } from './client-kit.ts';
import { ProxylessClient } from './proxyless-client.ts';

type Command =
  | { cmd: 'connect'; target: string; count: number; models: number; proxyless?: boolean }
  | { cmd: 'mark' }
  | { cmd: 'report' }
  | { cmd: 'reconnect'; warm?: boolean }
  | { cmd: 'stall'; every: number; offsets: number[] }
  | { cmd: 'close' };

const deltaRequestType = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const DELTA_ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

interface DeltaResponse {
  typeUrl: string;
  nonce: string;
  /** Each resource's name, version and (for routes) the clusters it names. */
  resources: { name: string; version: string; clusters: string[] }[];
  removed: string[];
  bytes: number;
}

/** A delta Resource: version (1), resource Any (2: its value is field 2), name (3). */
function readResource(bytes: Uint8Array, typeUrl: string): DeltaResponse['resources'][number] {
  const reader = protobuf.Reader.create(bytes);
  const resource = { name: '', version: '', clusters: [] as string[] };
  let any: Uint8Array | undefined;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 3) resource.name = reader.string();
    else if (tag >>> 3 === 1) resource.version = reader.string();
    else if (tag >>> 3 === 2) any = reader.bytes();
    else reader.skipType(tag & 7);
  }
  if (any && typeUrl === TYPE_URLS.route) resource.clusters = clustersOfRouteAny(any);
  return resource;
}

/** A DeltaDiscoveryResponse: resources (2), type (4), nonce (5), removed (6). Resources are read after the type. */
function decodeDeltaResponse(bytes: Buffer): DeltaResponse {
  const reader = protobuf.Reader.create(bytes);
  const response: DeltaResponse = { typeUrl: '', nonce: '', resources: [], removed: [], bytes: bytes.length };
  const raw: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 4) response.typeUrl = reader.string();
    else if (field === 5) response.nonce = reader.string();
    else if (field === 6) response.removed.push(reader.string());
    else if (field === 2) raw.push(reader.bytes());
    else reader.skipType(tag & 7);
  }
  response.resources = raw.map((r) => readResource(r, response.typeUrl));
  return response;
}

class SimulatedSidecar implements Tally {
  readonly id: number;
  readonly usesChanged: boolean;
  readonly #target: string;
  readonly #routes: string[];
  #client: grpc.Client;
  #call: grpc.ClientDuplexStream<Record<string, unknown>, DeltaResponse> | undefined;
  lastAck = new Map<string, number>();
  bytesSinceMark = 0;
  responsesSinceMark = 0;
  bytesByType = new Map<string, number>();
  /** What the sidecar runs, kept across a warm reconnect as Envoy keeps it: per type, name -> version. */
  #held = new Map<string, Map<string, string>>();
  #wantedClusters = new Set<string>([BLACKHOLE_CLUSTER]);
  #wantedEndpoints = new Set<string>();
  #onSynced: (() => void) | undefined;

  constructor(id: number, target: string, models: number) {
    this.id = id;
    this.usesChanged = usesChangedModel(id);
    this.#target = target;
    this.#routes = modelsCalledBy(id, models).map((model) => modelTableName(DEFAULT_SETTINGS.grpcTarget, model));
    this.#client = channel(target);
  }

  disconnect(): void {
    this.#call?.cancel();
    this.#call = undefined;
    this.#client.close();
    this.#client = channel(this.#target);
  }

  /**
   * Cold (a new or restarted sidecar): subscribes from nothing and resolves once it holds every table,
   * cluster and endpoint set it asked for. Warm (reconnecting after a control-plane restart): names what it
   * holds in initial_resource_versions and resolves once the requests are written; whether it is in sync is
   * read from the server, which may rightly send nothing.
   */
  connect(warm: boolean): Promise<void> {
    if (!warm) {
      this.#held.clear();
      this.#wantedClusters = new Set([BLACKHOLE_CLUSTER]);
      this.#wantedEndpoints.clear();
    }
    const done = new Promise<void>((resolve) => (this.#onSynced = resolve));
    const call = this.#client.makeBidiStreamRequest(DELTA_ADS, (r: Record<string, unknown>) => Buffer.from(deltaRequestType.encode(deltaRequestType.fromObject(r)).finish()), decodeDeltaResponse);
    this.#call = call;
    const node = { id: `bench-sidecar-${this.id}.bench`, cluster: 'bench' };
    call.on('data', (response: DeltaResponse) => this.#onResponse(call, response));
    call.on('error', () => {});
    const initial = (type: string) => (warm ? { initial_resource_versions: Object.fromEntries(this.#held.get(type) ?? []) } : {});
    call.write({ node, type_url: TYPE_URLS.listener, ...initial(TYPE_URLS.listener) });
    call.write({ type_url: TYPE_URLS.scopedRoute, ...initial(TYPE_URLS.scopedRoute) });
    call.write({ type_url: TYPE_URLS.route, resource_names_subscribe: this.#routes, ...initial(TYPE_URLS.route) });
    call.write({ type_url: TYPE_URLS.cluster, resource_names_subscribe: [...this.#wantedClusters], ...initial(TYPE_URLS.cluster) });
    if (warm) call.write({ type_url: TYPE_URLS.endpoint, resource_names_subscribe: [...this.#wantedEndpoints], ...initial(TYPE_URLS.endpoint) });
    return warm ? Promise.resolve() : done;
  }

  #onResponse(call: grpc.ClientDuplexStream<Record<string, unknown>, DeltaResponse>, response: DeltaResponse): void {
    this.bytesSinceMark += response.bytes;
    this.bytesByType.set(response.typeUrl, (this.bytesByType.get(response.typeUrl) ?? 0) + response.bytes);
    this.responsesSinceMark += 1;
    call.write({ type_url: response.typeUrl, response_nonce: response.nonce });
    const held = this.#held.get(response.typeUrl) ?? new Map<string, string>();
    this.#held.set(response.typeUrl, held);
    for (const { name, version } of response.resources) held.set(name, version);
    for (const name of response.removed) held.delete(name);
    // Like Envoy with on-demand CDS: the clusters the tables name, then EDS for the clusters that arrive.
    const more = (wanted: Set<string>, names: string[]) => names.filter((name) => !wanted.has(name) && wanted.add(name));
    if (response.typeUrl === TYPE_URLS.route) {
      const clusters = more(this.#wantedClusters, response.resources.flatMap((r) => r.clusters));
      if (clusters.length > 0) call.write({ type_url: TYPE_URLS.cluster, resource_names_subscribe: clusters });
    }
    if (response.typeUrl === TYPE_URLS.cluster) {
      const endpoints = more(this.#wantedEndpoints, response.resources.map((r) => r.name).filter((name) => name !== BLACKHOLE_CLUSTER));
      if (endpoints.length > 0) call.write({ type_url: TYPE_URLS.endpoint, resource_names_subscribe: endpoints });
    }
    this.lastAck.set(response.typeUrl, Date.now());
    if (this.#synced()) this.#onSynced?.();
  }

  missing(): string {
    const absent = (type: string, names: Iterable<string>) => [...names].filter((name) => !this.#held.get(type)?.has(name));
    const types = [TYPE_URLS.listener, TYPE_URLS.scopedRoute].filter((type) => !this.#held.has(type)).map((type) => type.slice(type.lastIndexOf('.') + 1));
    return [...types, ...absent(TYPE_URLS.route, this.#routes), ...absent(TYPE_URLS.cluster, this.#wantedClusters), ...absent(TYPE_URLS.endpoint, this.#wantedEndpoints).map((n) => `eds ${n}`)].join(' ') || 'nothing';
  }

  #synced(): boolean {
    const holds = (type: string, names: Iterable<string>) => [...names].every((name) => this.#held.get(type)?.has(name));
    return this.#held.has(TYPE_URLS.listener) && this.#held.has(TYPE_URLS.scopedRoute) && this.#wantedEndpoints.size > 0 && holds(TYPE_URLS.route, this.#routes) && holds(TYPE_URLS.cluster, this.#wantedClusters) && holds(TYPE_URLS.endpoint, this.#wantedEndpoints);
  }

  shutdown(): void {
    this.#call?.cancel();
    this.#client.close();
  }

  /** Stops reading (bench/stalled.ts): grpc-js then stops reading its HTTP/2 stream, whose window closes. */
  stall(): void {
    this.#call?.pause();
  }
}

let clients: Tally[] = [];

/** Waits for every client, at most SYNC_TIMEOUT_MS; then says how many are not in sync and what they miss. */
const SYNC_TIMEOUT_MS = Number(process.env['BENCH_SYNC_TIMEOUT_MS'] ?? 180_000);
async function allSynced(connects: Promise<void>[]): Promise<{ unsynced: number; missing: string[] }> {
  const done = new Set<number>();
  connects.forEach((connect, i) => void connect.then(() => done.add(i)));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(connects), new Promise((resolve) => (timer = setTimeout(resolve, SYNC_TIMEOUT_MS)))]);
  clearTimeout(timer);
  const behind = clients.filter((_, i) => !done.has(i));
  return { unsynced: behind.length, missing: behind.slice(0, 3).map((client) => `${client.id}: ${client.missing()}`) };
}

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'connect': {
      const make = (i: number) => (command.proxyless ? new ProxylessClient(i, command.target, command.models) : new SimulatedSidecar(i, command.target, command.models));
      clients = Array.from({ length: command.count }, (_, i) => make(i));
      const started = Date.now();
      return { ...(await allSynced(clients.map((client) => client.connect(false)))), syncedMs: Date.now() - started };
    }
    case 'mark':
      for (const client of clients) {
        client.lastAck.clear();
        client.bytesSinceMark = 0;
        client.responsesSinceMark = 0;
        client.bytesByType.clear();
      }
      return {};
    case 'report':
      return clients.map((client) => ({ lastAck: Object.fromEntries(client.lastAck), bytes: client.bytesSinceMark, responses: client.responsesSinceMark, byType: Object.fromEntries(client.bytesByType), usesChanged: client.usesChanged }));
    case 'reconnect': {
      for (const client of clients) client.disconnect();
      const started = Date.now();
      return { ...(await allSynced(clients.map((client) => client.connect(command.warm ?? false)))), syncedMs: Date.now() - started, startedAt: started };
    }
    case 'stall': {
      const stalled = clients.filter((client): client is SimulatedSidecar => client instanceof SimulatedSidecar && command.offsets.includes(client.id % command.every));
      for (const client of stalled) client.stall();
      return { stalled: stalled.length };
    }
    case 'close':
      for (const client of clients) client.shutdown();
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (message: Command & { id: number }) => {
  void handle(message).then((result) => process.send?.({ id: message.id, result }));
});
