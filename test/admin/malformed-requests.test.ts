import type http from 'node:http';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createAdminServer, listenHttp } from '../../src/admin/server.ts';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { ServeProcess } from '../support/serve-process.ts';
import { closeNow } from '../support/close-http.ts';

interface RawResponse {
  status: number;
  headers: string;
  body: string;
}

/** Writes bytes as they are (no client library to tidy them up) and reads until the server closes. */
function rawRequest(port: number, bytes: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head = '', body = ''] = text.split('\r\n\r\n', 2);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1]);
      if (!Number.isInteger(status)) return reject(new Error(`no HTTP response, got ${JSON.stringify(text.slice(0, 200))}`));
      resolve({ status, headers: head, body });
    });
    socket.write(bytes);
  });
}

const get = (target: string) => `GET ${target} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n`;

let server: http.Server | undefined;
let port = 0;
let statusThrows = false;

beforeEach(async () => {
  statusThrows = false;
  const metrics = createMetrics();
  server = createAdminServer({
    registry: metrics.registry,
    status: () => {
      if (statusThrows) throw new Error('status exploded');
      return { ready: true, snapshotVersion: '1', models: [], policyErrors: [], readErrors: [], warnings: [] };
    },
  });
  ({ port } = await listenHttp(server, '127.0.0.1:0'));
});

afterEach(async () => {
  const open = server;
  server = undefined;
  await closeNow(open);
});

async function expectHealthy(): Promise<void> {
  const response = await rawRequest(port, get('/healthz'));
  expect(response.status).toBe(200);
  expect(JSON.parse(response.body)).toEqual({ status: 'ok' });
}

describe('admin server: malformed requests are answered, never fatal', () => {
  it.each([
    ['an absolute-form target with an out-of-range port', get('http://x:99999/')],
    ['an absolute-form target with an unclosed IPv6 bracket', get('http://[::1/')],
    ['the asterisk target (OPTIONS only), sent with GET', get('*')],
  ])('400 for %s', async (_name, request) => {
    const response = await rawRequest(port, request);
    expect(response.status).toBe(400);
    expect(response.headers).toMatch(/content-type: application\/json/i);
    expect(JSON.parse(response.body).error).toMatch(/^malformed request target "/);
    await expectHealthy();
  });

  it('reads "//" as the (well-formed, unknown) path it is, not as a scheme-relative URL', async () => {
    const response = await rawRequest(port, get('//'));
    expect(response.status).toBe(404);
    expect(JSON.parse(response.body).error).toMatch(/^no such path "\/\/"/);
    await expectHealthy();
  });

  it('serves an absolute-form target like its path', async () => {
    expect((await rawRequest(port, get('http://admin/healthz'))).status).toBe(200);
  });

  it.each([
    ['a header name with a space', 'GET /healthz HTTP/1.1\r\nHost: admin\r\nBad Header: v\r\n\r\n', 400],
    ['a control character in a header value', 'GET /healthz HTTP/1.1\r\nHost: admin\r\nX-Model: a\x01b\r\n\r\n', 400],
    ['a method with invalid characters', 'G@T /healthz HTTP/1.1\r\nHost: admin\r\n\r\n', 400],
    ['a target that is neither a path nor a URL', get('nonsense'), 400],
    ['a line that is not HTTP', 'hello there\r\n\r\n', 400],
    ['bytes of a TLS handshake', Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), 400],
    // Past the 16 kB header limit, but small enough to be read whole: unread bytes would turn the close into a reset.
    ['a 32 kB request target', get(`/${'a'.repeat(32_000)}`), 431],
  ])('%s gets a JSON error and a closed connection', async (_name, request, status) => {
    const response = await rawRequest(port, request);
    expect(response.status).toBe(status);
    expect(response.headers).toMatch(/connection: close/i);
    expect(JSON.parse(response.body)).toMatchObject({ error: expect.stringMatching(/^malformed HTTP request: /), code: expect.stringMatching(/^HPE_/) });
    await expectHealthy();
  });

  it('answers 500 when building a response throws, and keeps serving', async () => {
    statusThrows = true;
    const response = await rawRequest(port, get('/status'));
    expect(response.status).toBe(500);
    expect(JSON.parse(response.body)).toEqual({ error: 'status exploded' });
    await expectHealthy();
  });
});

describe('a running serve process', () => {
  let serve: ServeProcess | undefined;
  afterEach(() => {
    serve?.kill();
    serve = undefined;
  });

  it('survives GET // and malformed targets on its admin port', async () => {
    serve = await ServeProcess.start();
    for (const target of ['//', 'http://x:99999/', 'http://[::1/']) await rawRequest(serve.adminPort, get(target));
    const response = await rawRequest(serve.adminPort, get('/healthz'));
    expect(response.status).toBe(200);
    expect(serve.running).toBe(true);
  });
});
