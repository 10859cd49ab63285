/**
 * One bounded HTTP request for the prober: a model server that answers garbage, slowly or huge costs at most
 * `timeoutMs` and `maxBytes`, and every way of failing ends as a ProbeError with a message a person can read
 * in `explain` (the probe error is the reason shown for a probe-failing endpoint).
 */
import * as http from 'node:http';

/** How a probe failed, as counted by infermesh_probe_requests_total{result}. */
export type ProbeFailureKind = 'failure' | 'timeout' | 'too-large';

export class ProbeError extends Error {
  readonly kind: ProbeFailureKind;
  constructor(kind: ProbeFailureKind, message: string) {
    super(message);
    this.name = 'ProbeError';
    this.kind = kind;
  }
}

export const DEFAULT_MAX_RESPONSE_BYTES = 1 << 20;

export interface JsonRequest {
  host: string;
  port: number;
  method: 'GET' | 'POST';
  path: string;
  /** Sent as JSON (POST). */
  body?: unknown;
  timeoutMs: number;
  maxBytes?: number;
  /** Aborts the request; an Error reason (e.g. the prober's own timeout) becomes the rejection. */
  signal?: AbortSignal;
  agent?: http.Agent;
  /** Statuses whose body is returned; any other is a failure. Default [200]. */
  acceptStatus?: readonly number[];
}

export interface JsonResponse {
  status: number;
  body: unknown;
}

const SNIPPET = 200;

function snippet(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > SNIPPET ? `${flat.slice(0, SNIPPET)}...` : flat;
}

function abortError(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new ProbeError('failure', 'aborted');
}

/** Requests, reads at most maxBytes, parses JSON. Rejects with ProbeError (or the signal's Error reason). */
export function requestJson(request: JsonRequest): Promise<JsonResponse> {
  return attempt(request, true);
}

function attempt(request: JsonRequest, mayRetry: boolean): Promise<JsonResponse> {
  const maxBytes = request.maxBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const accept = request.acceptStatus ?? [200];
  const where = `${request.method} ${request.path}`;
  return new Promise<JsonResponse>((resolve, reject) => {
    if (request.signal?.aborted) return reject(abortError(request.signal));
    const payload = request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body));
    let settled = false;
    let reusedSocket = false;
    const cleanup = (): void => {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: Error): void => {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(error);
    };
    const succeed = (value: JsonResponse): void => {
      if (settled) return;
      settled = true;
      cleanup();
      resolve(value);
    };
    const onAbort = (): void => fail(abortError(request.signal as AbortSignal));
    const timer = setTimeout(() => fail(new ProbeError('timeout', `${where}: timed out after ${request.timeoutMs} ms`)), request.timeoutMs);

    const req = http.request(
      {
        host: request.host,
        port: request.port,
        method: request.method,
        path: request.path,
        agent: request.agent,
        headers: {
          accept: 'application/json',
          ...(payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': payload.length }),
        },
      },
      (response) => {
        const status = response.statusCode ?? 0;
        const declared = Number(response.headers['content-length']);
        if (Number.isFinite(declared) && declared > maxBytes) {
          return fail(new ProbeError('too-large', `${where}: response larger than ${maxBytes} bytes (content-length ${declared})`));
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBytes) return fail(new ProbeError('too-large', `${where}: response larger than ${maxBytes} bytes`));
          chunks.push(chunk);
        });
        response.on('error', (error) => fail(new ProbeError('failure', `${where}: ${error.message}`)));
        response.on('aborted', () => fail(new ProbeError('failure', `${where}: connection closed mid-response`)));
        response.on('end', () => {
          if (settled) return;
          if (!response.complete) return fail(new ProbeError('failure', `${where}: connection closed mid-response`));
          const text = Buffer.concat(chunks).toString('utf8');
          if (!accept.includes(status)) {
            return fail(new ProbeError('failure', `${where}: HTTP ${status}${text.trim() === '' ? '' : `: ${snippet(text)}`}`));
          }
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            return fail(new ProbeError('failure', `${where}: HTTP ${status} body is not JSON: ${snippet(text) || '(empty)'}`));
          }
          succeed({ status, body });
        });
      },
    );
    req.on('socket', () => {
      reusedSocket = req.reusedSocket;
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (settled) return;
      // A kept-alive socket the server closed while idle: one fresh attempt, as browsers do.
      if (mayRetry && reusedSocket && error.code === 'ECONNRESET') {
        settled = true;
        cleanup();
        attempt(request, false).then(resolve, reject);
        return;
      }
      fail(new ProbeError('failure', `${where}: ${error.message}`));
    });
    request.signal?.addEventListener('abort', onAbort, { once: true });
    req.end(payload);
  });
}
