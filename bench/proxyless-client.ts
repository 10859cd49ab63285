/**
 * A simulated proxyless gRPC client dialling xds:///infermesh/<model>, subscribing as gRPC's xDS resolver
 * does: SotW ADS, LDS for `infermesh/<model>`, RDS for the table its listener names (the same name), CDS for
 * the clusters that table names, EDS for those clusters. Every request repeats its type's full name list.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { modelTableName } from '../src/envoy/names.ts';
import { TYPE_URLS } from '../src/envoy/type-urls.ts';
import { DEFAULT_SETTINGS } from '../src/model/types.ts';
import { modelsCalledBy, usesChangedModel } from './called-models.ts';
import { channel, clustersOfRouteAny, root, type Tally } from './client-kit.ts';

const requestType = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

interface SotwResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  /** For route responses: the clusters they name. */
  clusters: string[];
  bytes: number;
}

/** A DiscoveryResponse: version (1), resources (2, Any), type (4), nonce (5). */
function decodeResponse(bytes: Buffer): SotwResponse {
  const reader = protobuf.Reader.create(bytes);
  const response: SotwResponse = { versionInfo: '', typeUrl: '', nonce: '', clusters: [], bytes: bytes.length };
  const anys: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    if (field === 1) response.versionInfo = reader.string();
    else if (field === 4) response.typeUrl = reader.string();
    else if (field === 5) response.nonce = reader.string();
    else if (field === 2) anys.push(reader.bytes());
    else reader.skipType(tag & 7);
  }
  if (response.typeUrl === TYPE_URLS.route) response.clusters = anys.flatMap(clustersOfRouteAny);
  return response;
}

export class ProxylessClient implements Tally {
  readonly id: number;
  readonly usesChanged: boolean;
  readonly #target: string;
  readonly #name: string;
  #client: grpc.Client;
  #call: grpc.ClientDuplexStream<Record<string, unknown>, SotwResponse> | undefined;
  lastAck = new Map<string, number>();
  bytesSinceMark = 0;
  responsesSinceMark = 0;
  bytesByType = new Map<string, number>();
  #names = new Map<string, string[]>();
  #versions = new Map<string, string>();
  #onSynced: (() => void) | undefined;

  constructor(id: number, target: string, models: number) {
    this.id = id;
    this.usesChanged = usesChangedModel(id);
    this.#target = target;
    this.#name = modelTableName(DEFAULT_SETTINGS.grpcTarget, modelsCalledBy(id, models)[0] ?? 'model-0');
    this.#client = channel(target);
  }

  disconnect(): void {
    this.#call?.cancel();
    this.#call = undefined;
    this.#client.close();
    this.#client = channel(this.#target);
  }

  /** Always cold: a gRPC client that reconnects asks again from nothing. Resolves once it has endpoints. */
  connect(): Promise<void> {
    this.#names.clear();
    this.#versions.clear();
    const done = new Promise<void>((resolve) => (this.#onSynced = resolve));
    const call = this.#client.makeBidiStreamRequest(ADS, (r: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(r)).finish()), decodeResponse);
    this.#call = call;
    call.on('data', (response: SotwResponse) => this.#onResponse(call, response));
    call.on('error', () => {});
    const node = { id: `bench-proxyless-${this.id}`, cluster: 'bench', user_agent_name: 'gRPC Node' };
    this.#subscribe(call, TYPE_URLS.listener, [this.#name], node);
    return done;
  }

  #subscribe(call: grpc.ClientDuplexStream<Record<string, unknown>, SotwResponse>, typeUrl: string, names: string[], node?: Record<string, unknown>): void {
    this.#names.set(typeUrl, names);
    call.write({ ...(node ? { node } : {}), type_url: typeUrl, resource_names: names, version_info: this.#versions.get(typeUrl) ?? '' });
  }

  #onResponse(call: grpc.ClientDuplexStream<Record<string, unknown>, SotwResponse>, response: SotwResponse): void {
    this.bytesSinceMark += response.bytes;
    this.bytesByType.set(response.typeUrl, (this.bytesByType.get(response.typeUrl) ?? 0) + response.bytes);
    this.responsesSinceMark += 1;
    const first = !this.#versions.has(response.typeUrl);
    this.#versions.set(response.typeUrl, response.versionInfo);
    call.write({ type_url: response.typeUrl, version_info: response.versionInfo, response_nonce: response.nonce, resource_names: this.#names.get(response.typeUrl) ?? [] });
    if (first && response.typeUrl === TYPE_URLS.listener) this.#subscribe(call, TYPE_URLS.route, [this.#name]);
    if (response.typeUrl === TYPE_URLS.route && response.clusters.join() !== (this.#names.get(TYPE_URLS.cluster) ?? []).join()) {
      this.#subscribe(call, TYPE_URLS.cluster, response.clusters);
      this.#subscribe(call, TYPE_URLS.endpoint, response.clusters);
    }
    this.lastAck.set(response.typeUrl, Date.now());
    if (this.#versions.has(TYPE_URLS.endpoint) && this.#versions.has(TYPE_URLS.cluster)) this.#onSynced?.();
  }

  missing(): string {
    return [TYPE_URLS.listener, TYPE_URLS.route, TYPE_URLS.cluster, TYPE_URLS.endpoint].filter((type) => !this.#versions.has(type)).join(' ') || 'nothing';
  }

  shutdown(): void {
    this.#call?.cancel();
    this.#client.close();
  }
}
