import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Registry } from 'prom-client';
import type { ControllerStatus } from '../controller/controller.ts';
import type { ModelRollout } from '../xds/rollout.ts';

export interface AdminOptions {
  registry: Registry;
  status: () => ControllerStatus & { rollout?: readonly ModelRollout[] };
}

function sendJson(response: http.ServerResponse, code: number, body: unknown): void {
  const text = `${JSON.stringify(body, null, 2)}\n`;
  response.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/**
 * The path of a request target, or undefined when the target is malformed. Origin-form ("/a?b") is read as
 * is: `new URL` would take "//x" for a scheme-relative URL and throw. Absolute-form ("http://h/a") must be
 * a valid URL.
 */
function requestPath(target: string): string | undefined {
  if (target.startsWith('/')) return target.split(/[?#]/, 1)[0];
  return URL.canParse(target) ? new URL(target).pathname : undefined;
}

/** At most `max` characters of what a client sent, for an error message. */
function excerpt(text: string, max = 80): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

function route(options: AdminOptions, request: http.IncomingMessage, response: http.ServerResponse): void {
  const target = request.url ?? '/';
  const path = requestPath(target);
  if (path === undefined) return sendJson(response, 400, { error: `malformed request target ${JSON.stringify(excerpt(target))}` });
  if (request.method !== 'GET' && request.method !== 'HEAD') return sendJson(response, 405, { error: 'method not allowed' });
  switch (path) {
    case '/healthz':
      return sendJson(response, 200, { status: 'ok' });
    case '/readyz': {
      const status = options.status();
      return sendJson(response, status.ready ? 200 : 503, { ready: status.ready, snapshotVersion: status.snapshotVersion ?? null });
    }
    case '/metrics':
      options.registry.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': options.registry.contentType });
          response.end(text);
        },
        (error: unknown) => sendJson(response, 500, { error: String(error) }),
      );
      return;
    case '/status':
      return sendJson(response, 200, options.status());
    default:
      return sendJson(response, 404, { error: `no such path ${JSON.stringify(excerpt(path))}; try /metrics, /healthz, /readyz, /status` });
  }
}

/** Node's own choice of status per parser error, with a JSON body like every other answer here. */
function clientErrorStatus(code: string | undefined): { status: number; reason: string } {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, reason: 'Request Header Fields Too Large' };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'Request Timeout' };
  return { status: 400, reason: 'Bad Request' };
}

/**
 * A request the HTTP parser rejects never reaches the handler. Answer it, unless a response is already
 * under way on this connection (bytes of ours would corrupt it), and drop the connection either way.
 */
function answerClientError(error: Error & { code?: string }, socket: Duplex & { _httpMessage?: http.ServerResponse | null }): void {
  if (error.code !== 'ECONNRESET' && socket.writable && !socket._httpMessage?.headersSent) {
    const { status, reason } = clientErrorStatus(error.code);
    const body = `${JSON.stringify({ error: `malformed HTTP request: ${error.message}`, code: error.code })}\n`;
    socket.write(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** /metrics (Prometheus), /healthz (process alive), /readyz (first complete snapshot built), /status (models). */
export function createAdminServer(options: AdminOptions): http.Server {
  const server = http.createServer((request, response) => {
    try {
      route(options, request, response);
    } catch (error) {
      // Whatever a request makes go wrong is that request's failure, never the process's.
      if (!response.headersSent) sendJson(response, 500, { error: error instanceof Error ? error.message : String(error) });
      else response.destroy();
    }
  });
  server.on('clientError', answerClientError);
  return server;
}

export function listenHttp(server: http.Server, address: string): Promise<AddressInfo> {
  const { host, port } = splitHostPort(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

export function splitHostPort(address: string): { host: string; port: number } {
  const match = /^\[?([^\]]*)\]?:(\d+)$/.exec(address);
  if (!match || match[1] === undefined || match[2] === undefined) throw new Error(`invalid address "${address}": expected HOST:PORT, e.g. 0.0.0.0:9090`);
  return { host: match[1], port: Number(match[2]) };
}
