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
