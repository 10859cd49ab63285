/**
 * The REST port of a fake pod: HTTP/1.1 and cleartext HTTP/2 (prior knowledge, as Envoy sends h2c) on one
 * port, told apart by a connection's first bytes ("PRI" starts the HTTP/2 preface; no HTTP/1 method does).
 * Node serves h2c without HTTP/1 fallback, so both servers get connections handed over from one listener.
 * This lets a test see which protocol a proxy actually used upstream (request.httpVersion).
 */
import { createServer as createHttp1Server } from 'node:http';
import { createServer as createHttp2Server } from 'node:http2';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import type { FakeHttpRequest, FakeHttpResponse } from './fake-server-core.ts';

export interface RestPort {
  readonly port: number;
  /** Stops listening and drops every open connection. Idempotent. */
  close(): Promise<void>;
}

const HTTP2_PREFACE_START = 'PRI';

export function startRestPort(host: string, port: number, listener: (request: FakeHttpRequest, response: FakeHttpResponse) => void): Promise<RestPort> {
  const http1 = createHttp1Server(listener);
  const http2 = createHttp2Server();
  http2.on('request', listener);
  const sockets = new Set<Socket>();
  const front = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const dispatch = () => {
      // null until three bytes have arrived (or the peer ended the stream with fewer).
      const head: Buffer | null = socket.read(HTTP2_PREFACE_START.length);
      if (head === null) {
        socket.once('readable', dispatch);
        return;
      }
      socket.unshift(head);
      const server = head.toString('latin1') === HTTP2_PREFACE_START ? http2 : http1;
      server.emit('connection', socket);
    };
    socket.once('readable', dispatch);
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= new Promise<void>((resolve) => {
      front.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };
  return new Promise((resolve, reject) => {
    front.once('error', reject);
    front.listen(port, host, () => {
      front.off('error', reject);
      const address: AddressInfo | string | null = front.address();
      if (address === null || typeof address === 'string') reject(new Error('REST port has no TCP address'));
      else resolve({ port: address.port, close });
    });
  });
}
