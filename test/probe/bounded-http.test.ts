import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeError, requestJson, type JsonRequest } from '../../src/probe/bounded-http.ts';

const HOST = '127.0.0.220';

/** One loopback server whose path picks the misbehaviour. */
function handler(request: http.IncomingMessage, response: http.ServerResponse): void {
  const path = request.url ?? '/';
  const seen = (served.get(request.socket) ?? 0) + 1;
  served.set(request.socket, seen);
  if (path === '/ok') {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ method: request.method, received: Buffer.concat(chunks).toString('utf8') }));
    });
    return;
  }
  if (path === '/slow') return void setTimeout(() => response.end('{}'), 5000).unref();
  if (path === '/trickle') {
    // Headers at once, then a byte now and then: the timeout covers the whole answer, not just the headers.
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('[');
    const timer = setInterval(() => response.write(' '), 50);
    response.on('close', () => clearInterval(timer));
    return;
  }
  if (path === '/huge-chunked') {
    response.writeHead(200, { 'content-type': 'application/json' });
    const block = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = (): void => {
      while (sent < 4 << 20) {
        sent += block.length;
        if (!response.write(block)) return void response.once('drain', pump);
      }
      response.end('[]');
    };
    pump();
    return;
  }
  if (path === '/huge-declared') {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': String(8 << 20) });
    response.write('[');
    return;
  }
  if (path === '/exactly-limit') {
    response.end(JSON.stringify('x'.repeat(1000 - 2)));
    return;
  }
  if (path === '/garbage') return void response.end('<html>not json</html>');
  if (path === '/empty') return void response.end('');
  if (path === '/500') {
    response.statusCode = 500;
    return void response.end('{"error":"failed to load all models"}');
  }
  if (path === '/404') {
    response.statusCode = 404;
    return void response.end('{"error":"Could not find any versions of model m"}');
  }
  if (path === '/close-before') return void request.socket.destroy();
  if (path === '/reset-on-reuse') {
    // What a server whose keep-alive timeout fires just as the client reuses the socket looks like.
    if (seen > 1) return void request.socket.destroy();
    return void response.end('{"fresh":true}');
  }
  if (path === '/close-mid') {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
    response.write('{"partial":');
    setTimeout(() => request.socket.destroy(), 20);
    return;
  }
  response.statusCode = 400;
  response.end('{}');
}

const served = new WeakMap<object, number>();
let server: http.Server;
let port = 0;
let closedPort = 0;

beforeAll(async () => {
  server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  port = (server.address() as AddressInfo).port;
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, HOST, resolve));
  closedPort = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function get(path: string, extra: Partial<JsonRequest> = {}): Promise<{ status: number; body: unknown }> {
  return requestJson({ host: HOST, port, method: 'GET', path, timeoutMs: 500, maxBytes: 1000, ...extra });
}

async function failure(promise: Promise<unknown>): Promise<ProbeError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ProbeError);
  return error as ProbeError;
}

describe('bounded HTTP JSON request', () => {
  it('sends a JSON body and parses the JSON answer', async () => {
    const response = await requestJson({ host: HOST, port, method: 'POST', path: '/ok', body: {}, timeoutMs: 1000 });
    expect(response).toEqual({ status: 200, body: { method: 'POST', received: '{}' } });
  });

  it('cuts a server that does not answer at the timeout', async () => {
    const started = Date.now();
    const error = await failure(get('/slow', { timeoutMs: 200 }));
    expect(error.kind).toBe('timeout');
    expect(error.message).toBe('GET /slow: timed out after 200 ms');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('cuts a server that trickles its answer at the timeout', async () => {
    const error = await failure(get('/trickle', { timeoutMs: 300, maxBytes: 1 << 20 }));
    expect(error.kind).toBe('timeout');
  });

  it('stops reading beyond the size limit (chunked, no length declared)', async () => {
    const error = await failure(get('/huge-chunked', { timeoutMs: 5000, maxBytes: 1 << 20 }));
    expect(error.kind).toBe('too-large');
    expect(error.message).toBe('GET /huge-chunked: response larger than 1048576 bytes');
  });

  it('refuses a declared length beyond the limit before reading it', async () => {
    const error = await failure(get('/huge-declared', { maxBytes: 1 << 20 }));
    expect(error.kind).toBe('too-large');
    expect(error.message).toMatch(/larger than 1048576 bytes \(content-length 8388608\)/);
  });

  it('accepts a body of exactly the limit', async () => {
    const response = await get('/exactly-limit', { maxBytes: 1000 });
    expect(typeof response.body).toBe('string');
    await failure(get('/exactly-limit', { maxBytes: 999 }));
  });

  it('reports a body that is not JSON', async () => {
    const error = await failure(get('/garbage'));
    expect(error.kind).toBe('failure');
    expect(error.message).toBe('GET /garbage: HTTP 200 body is not JSON: <html>not json</html>');
    expect((await failure(get('/empty'))).message).toMatch(/not JSON: \(empty\)/);
  });

  it('reports an unexpected status with the start of the body', async () => {
    const error = await failure(get('/500'));
    expect(error.message).toBe('GET /500: HTTP 500: {"error":"failed to load all models"}');
    expect((await failure(get('/404'))).message).toMatch(/^GET \/404: HTTP 404/);
  });

  it('returns an accepted non-200 status with its body', async () => {
    expect(await get('/404', { acceptStatus: [200, 404] })).toEqual({ status: 404, body: { error: 'Could not find any versions of model m' } });
  });

  it('reports a socket closed before or during the answer, and a refused connection', async () => {
    expect((await failure(get('/close-before'))).message).toMatch(/^GET \/close-before: socket hang up/);
    expect((await failure(get('/close-mid'))).message).toMatch(/^GET \/close-mid: /);
    const refused = await failure(requestJson({ host: HOST, port: closedPort, method: 'GET', path: '/ok', timeoutMs: 500 }));
    expect(refused.message).toMatch(/ECONNREFUSED/);
  });

  it('an aborted signal rejects with its reason', async () => {
    const controller = new AbortController();
    const pending = get('/slow', { timeoutMs: 5000, signal: controller.signal });
    setTimeout(() => controller.abort(new ProbeError('timeout', 'timed out after 42 ms')), 50);
    const error = await failure(pending);
    expect(error.message).toBe('timed out after 42 ms');
  });

  it('retries once on a fresh connection when a kept-alive one is reset as it is reused', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const sockets = new Set<unknown>();
      const onConnection = (socket: unknown): void => void sockets.add(socket);
      server.on('connection', onConnection);
      await get('/ok', { agent });
      await get('/ok', { agent });
      expect(sockets.size).toBe(1);
      expect(await get('/reset-on-reuse', { agent })).toEqual({ status: 200, body: { fresh: true } });
      expect(sockets.size).toBe(2);
      server.off('connection', onConnection);
    } finally {
      agent.destroy();
    }
  });

  it('does not retry a reset on a fresh connection', async () => {
    expect((await failure(get('/close-before'))).message).toMatch(/socket hang up/);
  });
});
