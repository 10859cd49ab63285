import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';

/**
 * A bare ADS stream client written against the protocol (Envoy's own request/response messages, encoded
 * with protobufjs), for what real clients will not do on demand, such as NACKing a valid response.
 */
export class RawStreamClient<Response> {
  readonly received: Response[] = [];
  /** How the server ended the stream (or how it failed), once it has. */
  readonly status: Promise<grpc.StatusObject>;
  readonly #call: grpc.ClientDuplexStream<Record<string, unknown>, Response>;
  readonly #client: grpc.Client;
  #waiters: { predicate: (r: Response) => boolean; resolve: (r: Response) => void }[] = [];

  /** `channelOptions`, e.g. `{ 'grpc.use_local_subchannel_pool': 1 }` for a connection of its own. */
  constructor(root: protobuf.Root, address: string, method: string, requestTypeName: string, responseTypeName: string, channelOptions: grpc.ChannelOptions = {}) {
    const requestType = root.lookupType(requestTypeName);
    const responseType = root.lookupType(responseTypeName);
    this.#client = new grpc.Client(address, grpc.credentials.createInsecure(), channelOptions);
    this.#call = this.#client.makeBidiStreamRequest(
      `/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`,
      (request: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(request)).finish()),
      (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { defaults: true, arrays: true }) as Response,
    );
    this.#call.on('data', (response: Response) => {
      this.received.push(response);
      const waiter = this.#waiters.find((w) => w.predicate(response));
      if (waiter) {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        waiter.resolve(response);
      }
    });
    this.#call.on('error', () => {});
    this.status = new Promise((resolve) => this.#call.on('status', resolve));
  }

  send(request: Record<string, unknown>): void {
    this.#call.write(request);
  }

  /** Resolves with the first response (already received after `seen`, or future) that matches. */
  next(predicate: (r: Response) => boolean, seen = 0): Promise<Response> {
    const already = this.received.slice(seen).find(predicate);
    if (already) return Promise.resolve(already);
    return new Promise((resolve) => this.#waiters.push({ predicate, resolve }));
  }

  /** Calls `listener` with every response from now on (e.g. to ACK each as a proxy would). */
  onResponse(listener: (response: Response) => void): void {
    this.#call.on('data', listener);
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}
