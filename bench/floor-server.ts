import * as grpc from '@grpc/grpc-js';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
const DELTA_ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources';

/** The length-delimited fields of a message, by field number, without a protobuf library. */
function stringFields(bytes: Buffer): Map<number, string[]> {
  const fields = new Map<number, string[]>();
  let pos = 0;
  const varint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[pos++] ?? 0;
      result += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return result;
      shift += 7;
    }
  };
  while (pos < bytes.length) {
    const tag = varint();
    const wire = tag & 7;
    if (wire === 2) {
      const length = varint();
      const list = fields.get(tag >>> 3) ?? [];
      list.push(bytes.subarray(pos, pos + length).toString());
      fields.set(tag >>> 3, list);
      pos += length;
    } else if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
  }
  return fields;
}

/** Where type, names and nonce sit in a DiscoveryRequest (SotW) and a DeltaDiscoveryRequest. */
const SOTW = { type: 4, names: 3, nonce: 5 };
const DELTA = { type: 2, names: 3, nonce: 6 };

/** Pre-encoded answer to a request that subscribes `names` (empty: wildcard) of a type, or undefined. */
export type Answer = (typeUrl: string, names: readonly string[], delta: boolean) => Buffer | undefined;

/**
 * The floor: a bare grpc-js ADS server (SotW and delta) with no logic. It answers each request that carries
 * no nonce with the pre-encoded bytes `answer` gives for the names it subscribes, and on demand writes the
 * same pre-encoded bytes to the streams subscribed to a name. Whatever it costs to move those bytes through
 * grpc-js and HTTP/2 is the least any control plane here can cost.
 */
export class FloorServer {
  readonly #server = new grpc.Server();
  /** Each open stream and, per type, the names it subscribed. */
  readonly #streams = new Map<grpc.ServerDuplexStream<Buffer, Buffer>, Map<string, Set<string>>>();
  readonly #answer: Answer;

  constructor(answer: Answer) {
    this.#answer = answer;
  }

  #handler(delta: boolean) {
    const at = delta ? DELTA : SOTW;
    return (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const subscribed = new Map<string, Set<string>>();
      this.#streams.set(call, subscribed);
      call.on('data', (request: Buffer) => {
        const fields = stringFields(request);
        const typeUrl = fields.get(at.type)?.[0] ?? '';
        const names = fields.get(at.names) ?? [];
        const set = subscribed.get(typeUrl) ?? new Set<string>();
        subscribed.set(typeUrl, set);
        for (const name of names) set.add(name);
        if ((fields.get(at.nonce)?.[0] ?? '') !== '') return;
        const response = this.#answer(typeUrl, names, delta);
        if (response) call.write(response);
      });
      const drop = () => this.#streams.delete(call);
      call.on('cancelled', drop);
      call.on('error', drop);
      call.on('end', () => {
        drop();
        call.end();
      });
    };
  }

  async listen(): Promise<number> {
    const passThrough = (value: Buffer) => value;
    const method = (path: string) => ({ path, requestStream: true, responseStream: true, requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough });
    this.#server.addService({ StreamAggregatedResources: method(ADS), DeltaAggregatedResources: method(DELTA_ADS) }, { StreamAggregatedResources: this.#handler(false), DeltaAggregatedResources: this.#handler(true) });
    return new Promise((resolve, reject) => this.#server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))));
  }

  /** Writes `bytes` to every stream subscribed to `name` of `typeUrl`. */
  pushToSubscribers(typeUrl: string, name: string, bytes: Buffer): void {
    for (const [stream, subscribed] of this.#streams) if (subscribed.get(typeUrl)?.has(name)) stream.write(bytes);
  }

  close(): void {
    this.#server.forceShutdown();
  }
}
