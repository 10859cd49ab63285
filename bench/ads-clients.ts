/**
 * The simulated data plane for `npm run bench`: a child process holding N ADS streams (real grpc-js HTTP/2
 * on loopback) that subscribe like Envoy sidecars (CDS and LDS wildcard, EDS for every cluster, RDS for the
 * sidecar route configuration) and ACK every response. Driven over IPC by bench/run.ts; runs in its own
 * process so the server under test keeps a core to itself.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { loadEnvoyProtos } from '../src/envoy/protos.ts';
import { SIDECAR_ROUTE_CONFIG } from '../src/envoy/names.ts';
import { TYPE_URLS } from '../src/envoy/type-urls.ts';

type Command =
  | { cmd: 'connect'; target: string; count: number; delta?: boolean }
  | { cmd: 'mark' }
  | { cmd: 'report' }
  | { cmd: 'reconnect'; warm?: boolean }
  | { cmd: 'close' };

const root = loadEnvoyProtos();
const requestType = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const deltaRequestType = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const DELTA_ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

interface Response {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  resourceNames: string[];
  /** Delta only: each resource's version (index for index with resourceNames), and removed names. */
  resourceVersions: string[];
  removed: string[];
  bytes: number;
}

/**
 * Reads only what a client needs from a (Delta)DiscoveryResponse: version (field 1), type (4), nonce (5),
 * and each resource (2) through `readResource`; delta responses also list removed names in field 6.
 */
function decodeEnvelope(bytes: Buffer, readResource: (resource: Uint8Array, response: Response) => void, removedField?: number): Response {
  const reader = protobuf.Reader.create(bytes);
  const response: Response = { versionInfo: '', typeUrl: '', nonce: '', resourceNames: [], resourceVersions: [], removed: [], bytes: bytes.length };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1) response.versionInfo = reader.string();
    else if (field === 4) response.typeUrl = reader.string();
    else if (field === 5) response.nonce = reader.string();
    else if (field === removedField) response.removed.push(reader.string());
    else if (field === 2) readResource(reader.bytes(), response);
    else reader.skipType(tag & 7);
  }
  return response;
}

/** A delta Resource: its name (field 3) and version (field 1). */
function readDeltaResource(bytes: Uint8Array, response: Response): void {
  const resource = protobuf.Reader.create(bytes);
  let [name, version] = ['', ''];
  while (resource.pos < resource.len) {
    const tag = resource.uint32();
    if (tag >>> 3 === 3) name = resource.string();
    else if (tag >>> 3 === 1) version = resource.string();
    else resource.skipType(tag & 7);
  }
  response.resourceNames.push(name);
  response.resourceVersions.push(version);
}

/** A SotW Any: the name of the message inside it (field 1 of every type used here). */
function readSotwResource(bytes: Uint8Array, response: Response): void {
  const any = protobuf.Reader.create(bytes);
  while (any.pos < any.len) {
    const tag = any.uint32();
    if (tag >>> 3 === 2) {
      const value = protobuf.Reader.create(any.bytes());
      if (value.uint32() >>> 3 === 1) response.resourceNames.push(value.string());
    } else any.skipType(tag & 7);
  }
}

const decodeDeltaResponse = (bytes: Buffer) => decodeEnvelope(bytes, readDeltaResource, 6);
const decodeResponse = (bytes: Buffer) => decodeEnvelope(bytes, readSotwResource);

class SimulatedProxy {
  readonly id: number;
  readonly #target: string;
  #client: grpc.Client;
  #call: grpc.ClientDuplexStream<Record<string, unknown>, Response> | undefined;
  /** Per type URL: when the last response arrived and was ACKed (ms since epoch), bytes since mark. */
  lastAck = new Map<string, number>();
  bytesSinceMark = 0;
  responsesSinceMark = 0;
  #synced = new Set<string>();
  #delta = false;
  #warm = false;
  /** SotW: every request repeats the full subscription of its type. */
  #subscriptions = new Map<string, string[]>();
  /** What the proxy runs, kept across reconnects as Envoy keeps it: SotW version per type, delta version per resource. */
  #versions = new Map<string, string>();
  #resourceVersions = new Map<string, Map<string, string>>();
  #onSynced: (() => void) | undefined;

  constructor(id: number, target: string) {
    this.id = id;
    this.#target = target;
    this.#client = SimulatedProxy.#channel(target);
  }

  /** Its own HTTP/2 connection, as every sidecar has (grpc-js would otherwise share one between channels). */
  static #channel(target: string): grpc.Client {
    return new grpc.Client(target, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': 64 * 1024 * 1024, 'grpc.use_local_subchannel_pool': 1 });
  }

  /** Drops the stream and its connection; the next connect opens a new one, as after a control-plane restart. */
  disconnect(): void {
    this.#call?.cancel();
    this.#call = undefined;
    this.#client.close();
    this.#client = SimulatedProxy.#channel(this.#target);
  }

  /**
   * Opens the stream and subscribes. Cold (a new proxy), it resolves once every type has arrived. Warm (a
   * proxy reconnecting with the config it runs, as Envoy does after a control-plane restart), it names what
   * it holds and resolves once the requests are written: the server may rightly send nothing back, so
   * whether it is in sync is read from the server.
   */
  connect(delta = this.#delta, warm = false): Promise<void> {
    this.#delta = delta;
    this.#warm = warm;
    if (delta) return this.#connectDelta(warm);
    this.#synced.clear();
    const done = new Promise<void>((resolve) => (this.#onSynced = resolve));
    const call = this.#client.makeBidiStreamRequest(ADS, (r: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(r)).finish()), decodeResponse);
    this.#call = call;
    const node = { id: `bench-proxy-${this.id}.bench`, cluster: 'bench' };
    call.on('data', (response: Response) => this.#onResponse(response, node));
    call.on('error', () => {});
    if (!warm) this.#subscriptions = new Map([[TYPE_URLS.cluster, []], [TYPE_URLS.listener, []], [TYPE_URLS.route, [SIDECAR_ROUTE_CONFIG]]]);
    for (const [type, names] of this.#subscriptions) call.write({ node, type_url: type, resource_names: names, ...(warm ? { version_info: this.#versions.get(type) ?? '' } : {}) });
    return warm ? Promise.resolve() : done;
  }

  #connectDelta(warm: boolean): Promise<void> {
    this.#synced.clear();
    const done = new Promise<void>((resolve) => (this.#onSynced = resolve));
    const call = this.#client.makeBidiStreamRequest(DELTA_ADS, (r: Record<string, unknown>) => Buffer.from(deltaRequestType.encode(deltaRequestType.fromObject(r)).finish()), decodeDeltaResponse);
    this.#call = call;
    const node = { id: `bench-proxy-${this.id}.bench`, cluster: 'bench' };
    call.on('data', (response: Response) => {
      this.bytesSinceMark += response.bytes;
      this.responsesSinceMark += 1;
      call.write({ node, type_url: response.typeUrl, response_nonce: response.nonce });
      const held = this.#resourceVersions.get(response.typeUrl) ?? new Map<string, string>();
      this.#resourceVersions.set(response.typeUrl, held);
      response.resourceNames.forEach((name, i) => held.set(name, response.resourceVersions[i] ?? ''));
      for (const name of response.removed) held.delete(name);
      if (response.typeUrl === TYPE_URLS.cluster && !this.#synced.has(TYPE_URLS.cluster) && !warm) {
        call.write({ node, type_url: TYPE_URLS.endpoint, resource_names_subscribe: response.resourceNames });
      }
      this.lastAck.set(response.typeUrl, Date.now());
      this.#synced.add(response.typeUrl);
      if (this.#synced.size === 4) this.#onSynced?.();
    });
    call.on('error', () => {});
    const initial = (type: string) => (warm ? { initial_resource_versions: Object.fromEntries(this.#resourceVersions.get(type) ?? []) } : {});
    call.write({ node, type_url: TYPE_URLS.cluster, ...initial(TYPE_URLS.cluster) });
    call.write({ node, type_url: TYPE_URLS.listener, ...initial(TYPE_URLS.listener) });
    call.write({ node, type_url: TYPE_URLS.route, resource_names_subscribe: [SIDECAR_ROUTE_CONFIG], ...initial(TYPE_URLS.route) });
    if (warm) call.write({ node, type_url: TYPE_URLS.endpoint, resource_names_subscribe: [...(this.#resourceVersions.get(TYPE_URLS.endpoint)?.keys() ?? [])], ...initial(TYPE_URLS.endpoint) });
    return warm ? Promise.resolve() : done;
  }

  #onResponse(response: Response, node: Record<string, unknown>): void {
    const call = this.#call;
    if (!call) return;
    this.bytesSinceMark += response.bytes;
    this.responsesSinceMark += 1;
    call.write({ node, type_url: response.typeUrl, version_info: response.versionInfo, response_nonce: response.nonce, resource_names: this.#subscriptions.get(response.typeUrl) ?? [] });
    this.#versions.set(response.typeUrl, response.versionInfo);
    // Like Envoy: once clusters arrive, ask for their endpoints by name.
    if (response.typeUrl === TYPE_URLS.cluster && !this.#synced.has(TYPE_URLS.cluster) && !this.#warm) {
      this.#subscriptions.set(TYPE_URLS.endpoint, response.resourceNames);
      call.write({ node, type_url: TYPE_URLS.endpoint, resource_names: response.resourceNames });
    }
    this.lastAck.set(response.typeUrl, Date.now());
    this.#synced.add(response.typeUrl);
    if (this.#synced.size === 4) this.#onSynced?.();
  }

  close(): void {
    this.#call?.cancel();
  }

  shutdown(): void {
    this.close();
    this.#client.close();
  }
}

let proxies: SimulatedProxy[] = [];

async function handle(command: Command): Promise<unknown> {
  switch (command.cmd) {
    case 'connect': {
      proxies = Array.from({ length: command.count }, (_, i) => new SimulatedProxy(i, command.target));
      const started = Date.now();
      await Promise.all(proxies.map((proxy) => proxy.connect(command.delta ?? false)));
      return { syncedMs: Date.now() - started };
    }
    case 'mark':
      for (const proxy of proxies) {
        proxy.lastAck.clear();
        proxy.bytesSinceMark = 0;
        proxy.responsesSinceMark = 0;
      }
      return {};
    case 'report':
      return proxies.map((proxy) => ({ lastAck: Object.fromEntries(proxy.lastAck), bytes: proxy.bytesSinceMark, responses: proxy.responsesSinceMark }));
    case 'reconnect': {
      for (const proxy of proxies) proxy.disconnect();
      const started = Date.now();
      await Promise.all(proxies.map((proxy) => proxy.connect(undefined, command.warm ?? false)));
      return { syncedMs: Date.now() - started, startedAt: started };
    }
    case 'close':
      for (const proxy of proxies) proxy.shutdown();
      setImmediate(() => process.exit(0));
      return {};
  }
}

process.on('message', (message: Command & { id: number }) => {
  void handle(message).then((result) => process.send?.({ id: message.id, result }));
});
