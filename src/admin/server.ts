import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { ControllerStatus } from '../controller/controller.ts';
import type { ModelRollout } from '../xds/rollout.ts';

export interface AdminOptions {
  registry: Registry;
  status: () => ControllerStatus & { rollout?: readonly ModelRollout[] };
}

function sendJson(response: http.ServerResponse, code: number, body: unknown): void {
  response.writeHead(code, { 'content-type': 'application/json' });
  response.end(`${JSON.stringify(body, null, 2)}\n`);
}

/** /metrics (Prometheus), /healthz (process alive), /readyz (first complete snapshot built), /status (models). */
export function createAdminServer(options: AdminOptions): http.Server {
  return http.createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://admin');
    if (request.method !== 'GET' && request.method !== 'HEAD') return sendJson(response, 405, { error: 'method not allowed' });
    switch (url.pathname) {
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
        return sendJson(response, 404, { error: `no such path ${url.pathname}; try /metrics, /healthz, /readyz, /status` });
    }
  });
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
