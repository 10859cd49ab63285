import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';

export interface RawResponse {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: { type_url: string; value: Uint8Array }[];
}

/**
 * A bare ADS client written against the protocol (Envoy's DiscoveryRequest/Response protos, encoded with
 * protobufjs), for what real clients will not do on demand, such as NACKing a valid response.
 */
export class RawAdsClient {
  readonly received: RawResponse[] = [];
  readonly #call: grpc.ClientDuplexStream<Record<string, unknown>, RawResponse>;
  readonly #client: grpc.Client;
  #waiters: { predicate: (r: RawResponse) => boolean; resolve: (r: RawResponse) => void }[] = [];

  constructor(root: protobuf.Root, address: string) {
    const requestType = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const responseType = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
    this.#client = new grpc.Client(address, grpc.credentials.createInsecure());
    this.#call = this.#client.makeBidiStreamRequest(
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      (request: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(request)).finish()),
      (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { defaults: true, arrays: true }) as RawResponse,
    );
    this.#call.on('data', (response: RawResponse) => {
      this.received.push(response);
      const waiter = this.#waiters.find((w) => w.predicate(response));
      if (waiter) {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        waiter.resolve(response);
      }
    });
    this.#call.on('error', () => {});
  }

  send(request: Record<string, unknown>): void {
    this.#call.write(request);
  }

  /** Resolves with the first response (already received or future) that matches. */
  next(predicate: (r: RawResponse) => boolean, seen = 0): Promise<RawResponse> {
    const already = this.received.slice(seen).find(predicate);
    if (already) return Promise.resolve(already);
    return new Promise((resolve) => this.#waiters.push({ predicate, resolve }));
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}
