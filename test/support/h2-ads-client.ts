import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import protobuf from 'protobufjs';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService';

/** Per type URL: what the client holds (name -> delta version, or a hash of the SotW Any), and what it was sent. */
export interface TypeTally {
  held: Map<string, string>;
  responses: number;
  bytes: number;
}

/** The `name` (field 1 of every xDS resource type this project serves) inside an Any's value (field 2). */
function resourceName(any: Uint8Array): string {
  const outer = protobuf.Reader.create(any);
  while (outer.pos < outer.len) {
    const tag = outer.uint32();
    if (tag >>> 3 !== 2) {
      outer.skipType(tag & 7);
      continue;
    }
    const inner = protobuf.Reader.create(outer.bytes());
    while (inner.pos < inner.len) {
      const field = inner.uint32();
      if (field >>> 3 === 1) return inner.string();
      inner.skipType(field & 7);
    }
  }
  return '';
}

export const anyHash = (any: Uint8Array): string => createHash('sha1').update(any).digest('base64');

/**
 * An ADS client on its own HTTP/2 connection (node:http2 with gRPC framing), which can stop reading: created
 * `stalled`, it pauses its stream before the first byte, so it sends no stream WINDOW_UPDATE and HTTP/2 flow
 * control holds the server's writes after the first 64 KB, as a proxy that stopped reading would. Every
 * response it reads it ACKs (SotW: with the names it subscribed).
 */
export class H2AdsClient {
  readonly types = new Map<string, TypeTally>();
  readonly #session: http2.ClientHttp2Session;
  readonly #stream: http2.ClientHttp2Stream;
  readonly #delta: boolean;
  readonly #requestType: protobuf.Type;
  readonly #responseType: protobuf.Type;
  /** SotW: the names each type is subscribed to, repeated in every ACK. */
  readonly #names = new Map<string, string[]>();
  #resumed: boolean;
  error: Error | undefined;

  constructor(root: protobuf.Root, port: number, protocol: 'sotw' | 'delta', { stalled = false } = {}) {
    this.#delta = protocol === 'delta';
    const message = this.#delta ? 'DeltaDiscoveryRequest' : 'DiscoveryRequest';
    this.#requestType = root.lookupType(`envoy.service.discovery.v3.${message}`);
    this.#responseType = root.lookupType(`envoy.service.discovery.v3.${message.replace('Request', 'Response')}`);
    this.#session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 65_535 } });
    this.#session.on('error', (error) => (this.error ??= error));
    const method = this.#delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources';
    this.#stream = this.#session.request({ ':method': 'POST', ':path': `${ADS}/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
    this.#stream.on('error', (error) => (this.error ??= error));
    this.#resumed = !stalled;
    if (stalled) this.#stream.pause();
    else this.#read();
  }

  /** Subscribes: delta with resource_names_subscribe (["*"] for wildcard), SotW with resource_names ([] for wildcard). */
  subscribe(typeUrl: string, names: string[], node?: { id: string }): void {
    this.types.set(typeUrl, { held: new Map(), responses: 0, bytes: 0 });
    this.#names.set(typeUrl, names);
    const base = { ...(node ? { node } : {}), type_url: typeUrl };
    this.#send(this.#delta ? { ...base, resource_names_subscribe: names } : { ...base, resource_names: names });
  }

  resume(): void {
    if (this.#resumed) return;
    this.#resumed = true;
    this.#read();
  }

  close(): void {
    this.#stream.close(http2.constants.NGHTTP2_CANCEL);
    this.#session.destroy();
  }

  #send(request: Record<string, unknown>): void {
    const body = this.#requestType.encode(this.#requestType.fromObject(request)).finish();
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    frame.set(body, 5);
    this.#stream.write(frame);
  }

  /** gRPC length-prefixed messages; chunks are joined once a whole message is in (responses run to MBs). */
  #read(): void {
    let chunks: Buffer[] = [];
    let length = 0;
    let needed = 5;
    this.#stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      while (length >= needed) {
        let joined = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
        if (needed === 5) needed = 5 + joined.readUInt32BE(1);
        if (length < needed) {
          chunks = [joined];
          break;
        }
        this.#onResponse(joined.subarray(5, needed));
        joined = joined.subarray(needed);
        chunks = joined.length > 0 ? [joined] : [];
        length = joined.length;
        needed = 5;
      }
    });
    this.#stream.resume();
  }

  #onResponse(body: Buffer): void {
    if (!this.#delta) return this.#onSotwResponse(body);
    const response = this.#responseType.decode(body) as unknown as { type_url: string; nonce: string; resources: { name: string; version: string }[]; removed_resources: string[] };
    const tally = this.#tally(response.type_url, body.length);
    if (!tally) return;
    for (const resource of response.resources) tally.held.set(resource.name, resource.version);
    for (const name of response.removed_resources) tally.held.delete(name);
    this.#send({ type_url: response.type_url, response_nonce: response.nonce });
  }

  /** Read by hand (version_info 1, resources 2, type_url 4, nonce 5) to keep each Any's bytes as sent. */
  #onSotwResponse(body: Buffer): void {
    const reader = protobuf.Reader.create(body);
    let [version, typeUrl, nonce] = ['', '', ''];
    const resources: Uint8Array[] = [];
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      const field = tag >>> 3;
      if (field === 1) version = reader.string();
      else if (field === 2) resources.push(reader.bytes());
      else if (field === 4) typeUrl = reader.string();
      else if (field === 5) nonce = reader.string();
      else reader.skipType(tag & 7);
    }
    const tally = this.#tally(typeUrl, body.length);
    if (!tally) return;
    // LDS/CDS/SRDS responses are the whole set; RDS/EDS ones may carry only what changed.
    if (!typeUrl.endsWith('RouteConfiguration') && !typeUrl.endsWith('ClusterLoadAssignment')) tally.held.clear();
    for (const any of resources) tally.held.set(resourceName(any), anyHash(any));
    this.#send({ type_url: typeUrl, version_info: version, response_nonce: nonce, resource_names: this.#names.get(typeUrl) ?? [] });
  }

  #tally(typeUrl: string, bytes: number): TypeTally | undefined {
    const tally = this.types.get(typeUrl);
    if (tally) {
      tally.responses += 1;
      tally.bytes += bytes;
    }
    return tally;
  }

}
