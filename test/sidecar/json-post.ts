/** JSON POSTs through a sidecar over HTTP/1.1, for body-routed calls (policy modelFromBody). */
import http from 'node:http';
import type { Sidecar } from '../support/sidecar.ts';

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  json: Record<string, unknown>;
}

/** A POST through the sidecar over HTTP/1.1; `chunked` sends no content-length; `timeoutMs` bounds socket inactivity. */
export function post(sidecar: Sidecar, path: string, body: string | Buffer, headers: Record<string, string> = {}, chunked = false, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = typeof body === 'string' ? Buffer.from(body) : body;
    const request = http.request(
      {
        host: '127.0.0.1',
        port: sidecar.port,
        path,
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(chunked ? {} : { 'content-length': String(payload.length) }), ...headers },
        timeout: timeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: Record<string, unknown> = {};
          try {
            json = JSON.parse(text) as Record<string, unknown>;
          } catch {
            json = { text };
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, json });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`timeout: POST ${path}`)));
    // Envoy may answer (413) and close before the whole body is written.
    request.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)));
    if (chunked) {
      for (let at = 0; at < payload.length; at += 64 * 1024) request.write(payload.subarray(at, at + 64 * 1024));
      request.end();
    } else request.end(payload);
  });
}
