/**
 * What the mTLS tests share: a control-plane replica serving TLS on the mesh's folder, and a bare ADS client
 * over TLS (grpc-js, any credentials) that ACKs what it gets, as a proxy would.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { connect } from 'node:tls';
import { startServer, type RunningServer } from '../../src/cli/serve.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import type { MeshSettings } from '../../src/model/types.ts';
import type { XdsTlsFiles } from '../../src/xds/tls-credentials.ts';
import type { Mesh } from '../support/mesh.ts';
import type { KeyPair } from '../support/test-certs.ts';

export const CLUSTER_TYPE = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const LISTENER_TYPE = 'type.googleapis.com/envoy.config.listener.v3.Listener';

export function startTlsReplica(mesh: Mesh, xdsTls: XdsTlsFiles, settings: MeshSettings = mesh.settings, xdsAddress = '127.0.0.1:0'): Promise<RunningServer> {
  return startServer({ source: { kind: 'folder', dir: mesh.dir }, xdsAddress, adminAddress: '127.0.0.1:0', settings, logger: silentLogger(), holdoffMs: 20, xdsTls });
}

/** grpc-js TLS credentials from files; without `client`, no client certificate. */
export function clientCredentials(caFile: string, client?: KeyPair): grpc.ChannelCredentials {
  return grpc.credentials.createSsl(readFileSync(caFile), client ? readFileSync(client.key) : null, client ? readFileSync(client.cert) : null);
}

interface Response {
  version_info: string;
  type_url: string;
  nonce: string;
  resources: unknown[];
}

/** A SotW ADS stream subscribing to every cluster, ACKing each response. */
export class TlsAdsClient {
  readonly received: Response[] = [];
  readonly status: Promise<grpc.StatusObject>;
  readonly #client: grpc.Client;
  readonly #call: grpc.ClientDuplexStream<Record<string, unknown>, Response>;
  #waiters: (() => void)[] = [];

  constructor(address: string, credentials: grpc.ChannelCredentials, nodeId: string, typeUrl = CLUSTER_TYPE) {
    const root = loadEnvoyProtos();
    const requestType = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
    const responseType = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
    // A connection of its own, so each client does its own TLS handshake.
    this.#client = new grpc.Client(address, credentials, { 'grpc.use_local_subchannel_pool': 1 });
    this.#call = this.#client.makeBidiStreamRequest(
      '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
      (request: Record<string, unknown>) => Buffer.from(requestType.encode(requestType.fromObject(request)).finish()),
      (bytes: Buffer) => responseType.toObject(responseType.decode(bytes), { defaults: true, arrays: true }) as Response,
    );
    this.#call.on('data', (response: Response) => {
      this.received.push(response);
      this.#call.write({ type_url: response.type_url, version_info: response.version_info, response_nonce: response.nonce });
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.#call.on('error', () => {});
    this.status = new Promise((resolve) => this.#call.on('status', resolve));
    this.#call.write({ node: { id: nodeId, cluster: 'test' }, type_url: typeUrl, resource_names: [] });
  }

  /** Resolves with the number of responses once there are more than `seen`, or rejects when the stream ends first. */
  async responseAfter(seen: number, timeoutMs = 10_000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const more = (async () => {
      while (this.received.length <= seen) await new Promise<void>((resolve) => this.#waiters.push(resolve));
      return this.received.length;
    })();
    const outcome = await Promise.race([more, this.status, deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') throw new Error(`no response after ${seen} within ${timeoutMs} ms`);
    if (typeof outcome === 'object') throw new Error(`stream ended: ${grpc.status[outcome.code]} ${outcome.details}`);
    return outcome;
  }

  close(): void {
    this.#call.cancel();
    this.#client.close();
  }
}

/** The serial of the certificate a new TLS connection to 127.0.0.1:port is served (with a client certificate from `client`). */
export function servedSerial(port: number, caFile: string, client: KeyPair): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: readFileSync(caFile), cert: readFileSync(client.cert), key: readFileSync(client.key), ALPNProtocols: ['h2'], servername: '' }, () => {
      resolve(socket.getPeerCertificate().serialNumber.toUpperCase());
      socket.destroy();
    });
    socket.once('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('TLS handshake timed out')));
  });
}
