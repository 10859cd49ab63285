import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import http2 from 'node:http2';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { TYPE_URLS } from '../../src/envoy/type-urls.ts';
import { ServeProcess, exitWithin } from '../support/serve-process.ts';

const ADS_PATH = '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources';
/** serve gives streams 2 s to finish and backs itself with a 10 s deadline that exits 1: 0 within 15 s is the fix. */
const EXIT_BOUND_MS = 15_000;
const requestType = loadEnvoyProtos().lookupType('envoy.service.discovery.v3.DiscoveryRequest');

/** One length-prefixed gRPC message per type, the way a sidecar opens its ADS stream. */
function subscribeFrames(nodeId: string): Buffer {
  return Buffer.concat(
    Object.values(TYPE_URLS).map((typeUrl) => {
      const names = typeUrl === TYPE_URLS.route ? [DEFAULT_SETTINGS.grpcTarget] : [];
      const message = requestType.encode(requestType.fromObject({ node: { id: nodeId }, type_url: typeUrl, resource_names: names })).finish();
      const header = Buffer.alloc(5);
      header.writeUInt32BE(message.length, 1);
      return Buffer.concat([header, message]);
    }),
  );
}

/**
 * A loopback relay that forwards what clients send to the server and never reads a byte of what the server
 * sends back: the server's side of each connection sees a peer that stopped reading (a hung or frozen
 * proxy). A client that leaves closes its side through the relay; the relay still never reads.
 */
class NonReadingRelay {
  readonly #server: net.Server;
  readonly #sockets = new Set<net.Socket>();

  private constructor(server: net.Server) {
    this.#server = server;
  }

  static async start(upstreamPort: number): Promise<NonReadingRelay> {
    const server = net.createServer();
    const relay = new NonReadingRelay(server);
    server.on('connection', (down) => {
      const up = net.connect(upstreamPort, '127.0.0.1');
      up.pause();
      for (const socket of [down, up]) {
        relay.#sockets.add(socket);
        socket.on('error', () => {});
      }
      down.pipe(up);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    return (this.#server.address() as net.AddressInfo).port;
  }

  close(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#server.close();
  }
}

/** Opens an ADS stream and subscribes to every type; returns the session once the request is written. */
function subscribe(port: number, nodeId: string): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  const stream = session.request({ ':method': 'POST', ':path': ADS_PATH, 'content-type': 'application/grpc', te: 'trailers' });
  stream.on('error', () => {});
  stream.write(subscribeFrames(nodeId));
  return session;
}

const connected = (serve: ServeProcess, nodeId: string) => serve.logged((entry) => entry['msg'] === 'xDS client connected' && entry['node'] === nodeId);

let serve: ServeProcess | undefined;
let relay: NonReadingRelay | undefined;
const sessions: http2.ClientHttp2Session[] = [];

afterEach(() => {
  for (const session of sessions.splice(0)) session.destroy();
  relay?.close();
  relay = undefined;
  serve?.kill();
  serve = undefined;
});

describe('serve on SIGTERM', () => {
  it('exits 0 within the bound with a stalled ADS client and after 50 clients left without reading', async () => {
    serve = await ServeProcess.start();
    relay = await NonReadingRelay.start(serve.xdsPort);
    sessions.push(subscribe(relay.port, 'stalled'));
    await connected(serve, 'stalled');
    await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const session = subscribe(relay!.port, `gone-${i}`);
        await connected(serve!, `gone-${i}`);
        session.destroy();
      }),
    );

    const started = Date.now();
    serve.child.kill('SIGTERM');
    const exit = await exitWithin(serve, EXIT_BOUND_MS);
    const tail = serve.output.slice(-10).join('\n');
    expect(exit, `still running ${EXIT_BOUND_MS} ms after SIGTERM; last output:\n${tail}`).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(EXIT_BOUND_MS);
    expect(serve.output.some((line) => line.includes('shutdown deadline'))).toBe(false);
  }, EXIT_BOUND_MS + 15_000);

  it('exits at once on a second signal', async () => {
    serve = await ServeProcess.start();
    relay = await NonReadingRelay.start(serve.xdsPort);
    sessions.push(subscribe(relay.port, 'stalled'));
    await connected(serve, 'stalled');

    serve.child.kill('SIGTERM');
    await serve.logged((entry) => entry['msg'] === 'shutting down');
    const started = Date.now();
    serve.child.kill('SIGINT');
    const exit = await exitWithin(serve, EXIT_BOUND_MS);
    expect(exit?.code).toBe(130);
    // The first signal's shutdown waits 2 s for streams; the second does not wait for it.
    expect(Date.now() - started).toBeLessThan(1_500);
  }, EXIT_BOUND_MS + 15_000);
});
