import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

/**
 * An ADS client (state of the world or delta) that keeps no response, only counts them, and either ACKs
 * every response or never answers one. For tests that measure the server's memory in the same process.
 */
export class LeanAdsClient {
  responses = 0;
  readonly #client: grpc.Client;
  readonly #call: grpc.ClientDuplexStream<Record<string, unknown>, { typeUrl: string; nonce: string; versionInfo: string }>;
  readonly #names = new Map<string, readonly string[]>();
  readonly #delta: boolean;

  constructor(root: protobuf.Root, address: string, options: { delta: boolean; ack: boolean }) {
    this.#delta = options.delta;
    const prefix = options.delta ? 'Delta' : '';
    const requestType = root.lookupType(`envoy.service.discovery.v3.${prefix}DiscoveryRequest`);
    const responseType = root.lookupType(`envoy.service.discovery.v3.${prefix}DiscoveryResponse`);
    this.#client = new grpc.Client(address, grpc.credentials.createInsecure());
    this.#call = this.#client.makeBidiStreamRequest(
      `${ADS}/${options.delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources'}`,
      (request: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(request)).finish()),
      (bytes: Buffer) => {
        const response = responseType.decode(bytes) as unknown as { type_url: string; nonce: string; version_info?: string };
        return { typeUrl: response.type_url, nonce: response.nonce, versionInfo: response.version_info ?? '' };
      },
    );
    this.#call.on('data', (response) => {
      this.responses += 1;
      if (!options.ack) return;
      const names = this.#names.get(response.typeUrl) ?? [];
      this.#call.write(
        this.#delta
          ? { type_url: response.typeUrl, response_nonce: response.nonce }
          : { type_url: response.typeUrl, version_info: response.versionInfo, response_nonce: response.nonce, resource_names: names },
      );
    });
    this.#call.on('error', () => {});
  }

  /** Subscribes to a type: to `names`, or by wildcard when none are given. */
  subscribe(nodeId: string, typeUrl: string, names: readonly string[] = []): void {
    this.#names.set(typeUrl, names);
    this.#call.write(
      this.#delta
        ? { node: { id: nodeId }, type_url: typeUrl, resource_names_subscribe: names.length > 0 ? names : ['*'] }
        : { node: { id: nodeId }, type_url: typeUrl, resource_names: names },
    );
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

/**
 * A raw HTTP/2 ADS stream that advertises a stream window of 0: the server can send headers but not a byte
 * of any response, as with a proxy that stopped reading.
 */
export class StalledAdsClient {
  readonly #session: http2.ClientHttp2Session;
  readonly #stream: http2.ClientHttp2Stream;
  readonly #requestType: protobuf.Type;
  readonly #delta: boolean;

  constructor(root: protobuf.Root, address: string, options: { delta: boolean }) {
    this.#delta = options.delta;
    this.#requestType = root.lookupType(`envoy.service.discovery.v3.${options.delta ? 'Delta' : ''}DiscoveryRequest`);
    this.#session = http2.connect(`http://${address}`, { settings: { initialWindowSize: 0 } });
    this.#session.on('error', () => {});
    const method = options.delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources';
    this.#stream = this.#session.request({ ':method': 'POST', ':path': `${ADS}/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
    this.#stream.on('error', () => {});
  }

  subscribe(nodeId: string, typeUrl: string, names: readonly string[] = []): void {
    const request = this.#delta
      ? { node: { id: nodeId }, type_url: typeUrl, resource_names_subscribe: names.length > 0 ? names : ['*'] }
      : { node: { id: nodeId }, type_url: typeUrl, resource_names: names };
    const body = this.#requestType.encode(this.#requestType.fromObject(request)).finish();
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(body.length, 1);
    this.#stream.write(Buffer.concat([prefix, body]));
  }

  close(): void {
    this.#session.destroy();
  }
}
