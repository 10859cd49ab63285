import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';

export interface RawDeltaResponse {
  system_version_info: string;
  type_url: string;
  nonce: string;
  removed_resources: string[];
  resources: { name: string; version: string; resource: { type_url: string; value: Uint8Array } }[];
}

/** A bare delta ADS client written against the protocol (Envoy's Delta messages encoded with protobufjs). */
export class RawDeltaClient {
  readonly received: RawDeltaResponse[] = [];
  readonly #call: grpc.ClientDuplexStream<Record<string, unknown>, RawDeltaResponse>;
  readonly #client: grpc.Client;
  #waiters: { predicate: (r: RawDeltaResponse) => boolean; resolve: (r: RawDeltaResponse) => void }[] = [];

  constructor(root: protobuf.Root, address: string) {
    const requestType = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
    const responseType = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
    this.#client = new grpc.Client(address, grpc.credentials.createInsecure());
    this.#call = this.#client.makeBidiStreamRequest(
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources',
      (request: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(request)).finish()),
      (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { defaults: true, arrays: true }) as RawDeltaResponse,
    );
    this.#call.on('data', (response: RawDeltaResponse) => {
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

  next(predicate: (r: RawDeltaResponse) => boolean, seen = 0): Promise<RawDeltaResponse> {
    const already = this.received.slice(seen).find(predicate);
    if (already) return Promise.resolve(already);
    return new Promise((resolve) => this.#waiters.push({ predicate, resolve }));
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}
