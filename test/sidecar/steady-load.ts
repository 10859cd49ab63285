/**
 * A steady stream of inference requests through one sidecar: a few workers per target loop until stopped and
 * record every outcome (time, status, pod that answered). Used to show that configuration changes under
 * load fail no request for the models that stay.
 */
import * as grpc from '@grpc/grpc-js';
import { createTritonClient, tritonInfer, type TritonClient } from '../../demo/fake-model-server.ts';

export interface Outcome {
  at: number;
  ok: boolean;
  /** HTTP status, or the gRPC status code for gRPC targets (0 = OK). */
  status: number;
  pod?: string;
  detail?: string;
}

/** What one worker sends: gRPC ModelInfer (HTTP/2) or a REST call (HTTP/1.1) for one model. */
export type Target = { kind: 'grpc'; model: string } | { kind: 'rest'; model: string; path: string };

export class SteadyLoad {
  readonly outcomes = new Map<string, Outcome[]>();
  readonly #running: Promise<void>[] = [];
  readonly #clients: TritonClient[] = [];
  #stopped = false;

  readonly sidecarUrl: string;

  constructor(sidecarUrl: string) {
    this.sidecarUrl = sidecarUrl;
  }

  /** Starts `workers` loops for `target`, each one request at a time with a short pause. */
  start(label: string, target: Target, workers = 2, pauseMs = 5): void {
    this.outcomes.set(label, []);
    const authority = new URL(this.sidecarUrl).host;
    for (let i = 0; i < workers; i += 1) {
      const client = target.kind === 'grpc' ? createTritonClient(authority, grpc.credentials.createInsecure()) : undefined;
      if (client) this.#clients.push(client);
      this.#running.push(this.#loop(label, target, client, pauseMs));
    }
  }

  async #loop(label: string, target: Target, client: TritonClient | undefined, pauseMs: number): Promise<void> {
    const list = this.outcomes.get(label)!;
    while (!this.#stopped) {
      list.push(target.kind === 'rest' ? await restCall(this.sidecarUrl, target) : await grpcCall(client, target.model));
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  /** Outcomes of `label` recorded after `since` (ms since the epoch). */
  since(label: string, since: number): Outcome[] {
    return (this.outcomes.get(label) ?? []).filter((o) => o.at >= since);
  }

  failures(label: string): Outcome[] {
    return (this.outcomes.get(label) ?? []).filter((o) => !o.ok);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running);
    for (const client of this.#clients) client.close();
  }
}

async function grpcCall(client: TritonClient | undefined, model: string): Promise<Outcome> {
  try {
    if (!client) throw new Error('no gRPC client');
    const identity = await tritonInfer(client, model, { metadata: { 'x-model': model }, timeoutMs: 5_000 });
    return { at: Date.now(), ok: true, status: 0, pod: identity.pod };
  } catch (error) {
    const status = error as grpc.ServiceError;
    return { at: Date.now(), ok: false, status: status.code ?? -1, detail: status.details ?? String(error) };
  }
}

async function restCall(base: string, target: Extract<Target, { kind: 'rest' }>): Promise<Outcome> {
  try {
    const response = await fetch(`${base}${target.path}`, {
      method: 'POST',
      headers: { 'x-model': target.model, 'content-type': 'application/json' },
      body: '{"inputs":[],"instances":[[1]]}',
      signal: AbortSignal.timeout(5_000),
    });
    const text = await response.text();
    const pod = response.headers.get('x-served-by') ?? undefined;
    return { at: Date.now(), ok: response.status === 200, status: response.status, ...(pod ? { pod } : {}), ...(response.status === 200 ? {} : { detail: `${JSON.stringify(Object.fromEntries(response.headers))} ${text.slice(0, 200)}` }) };
  } catch (error) {
    return { at: Date.now(), ok: false, status: -1, detail: (error as Error).message };
  }
}
