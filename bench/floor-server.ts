import * as grpc from '@grpc/grpc-js';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';

/** Reads a request's type_url (field 4) and response_nonce (field 5) without a protobuf library. */
function typeAndNonce(bytes: Buffer): { typeUrl: string; nonce: string } {
  let pos = 0;
  let typeUrl = '';
  let nonce = '';
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
      const text = bytes.subarray(pos, pos + length).toString();
      if (tag >>> 3 === 4) typeUrl = text;
      if (tag >>> 3 === 5) nonce = text;
      pos += length;
    } else if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
  }
  return { typeUrl, nonce };
}

/**
 * The floor: a bare grpc-js ADS server with no logic. It answers each stream's first request of a type with
 * pre-encoded bytes and, on demand, writes the same pre-encoded bytes to every stream. Whatever it costs to
 * move those bytes through grpc-js and HTTP/2 is the least any control plane here can cost.
 */
export class FloorServer {
  readonly #server = new grpc.Server();
  readonly #streams = new Set<grpc.ServerDuplexStream<Buffer, Buffer>>();
  initial = new Map<string, Buffer>();

  async listen(): Promise<number> {
    const passThrough = (value: Buffer) => value;
    this.#server.addService(
      { StreamAggregatedResources: { path: ADS, requestStream: true, responseStream: true, requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough } },
      {
        StreamAggregatedResources: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          this.#streams.add(call);
          call.on('data', (request: Buffer) => {
            const { typeUrl, nonce } = typeAndNonce(request);
            const response = this.initial.get(typeUrl);
            if (nonce === '' && response) call.write(response);
          });
          const drop = () => this.#streams.delete(call);
          call.on('cancelled', drop);
          call.on('error', drop);
          call.on('end', () => {
            drop();
            call.end();
          });
        },
      },
    );
    return new Promise((resolve, reject) => this.#server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))));
  }

  pushToAll(bytes: Buffer): void {
    for (const stream of this.#streams) stream.write(bytes);
  }

  close(): void {
    this.#server.forceShutdown();
  }
}
