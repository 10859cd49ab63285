/**
 * Calls through an Envoy sidecar for the resilience tests: gRPC ModelInfer with its status, answer headers
 * and duration, a REST infer with its status, headers, body and duration, and Envoy's counters of a cluster.
 */
import * as grpc from '@grpc/grpc-js';
import { createTritonClient, tritonInfer, type TritonClient } from '../../demo/fake-model-server.ts';
import type { Sidecar } from '../support/sidecar.ts';

export type GrpcOutcome =
  | { ok: true; pod: string; ms: number }
  | { ok: false; code: grpc.status; details: string; metadata: Record<string, string>; ms: number };

function metadataRecord(metadata: grpc.Metadata | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata?.getMap() ?? {})) result[key] = typeof value === 'string' ? value : value.toString('utf8');
  return result;
}

function isServiceError(error: unknown): error is grpc.ServiceError {
  return error instanceof Error && 'code' in error && 'details' in error;
}

export function sidecarClient(sidecar: Sidecar): TritonClient {
  return createTritonClient(sidecar.authority);
}

/** ModelInfer for `model` through the sidecar, routed by the x-model header. */
export async function grpcInfer(client: TritonClient, model: string, timeoutMs = 5_000): Promise<GrpcOutcome> {
  const started = performance.now();
  try {
    const identity = await tritonInfer(client, model, { metadata: { 'x-model': model }, timeoutMs });
    return { ok: true, pod: identity.pod, ms: performance.now() - started };
  } catch (error) {
    if (!isServiceError(error)) throw error;
    return { ok: false, code: error.code, details: error.details, metadata: metadataRecord(error.metadata), ms: performance.now() - started };
  }
}

export interface RestOutcome {
  status: number;
  headers: Headers;
  body: string;
  ms: number;
}

/** POST of a KServe v2 (`/v2/models/M/infer`) or TF Serving (`/v1/models/M:predict`) inference path. */
export async function restInfer(sidecar: Sidecar, path: string, timeoutMs = 5_000): Promise<RestOutcome> {
  const started = performance.now();
  const response = await fetch(`${sidecar.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"inputs":[]}',
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = await response.text();
  return { status: response.status, headers: response.headers, body, ms: performance.now() - started };
}

/** Envoy's counters and gauges for one cluster, by stat name without the `cluster.<name>.` prefix. */
export async function clusterCounters(sidecar: Sidecar, cluster: string): Promise<Map<string, number>> {
  const prefix = `cluster.${cluster}.`;
  const text = await sidecar.envoy.admin(`/stats?filter=${encodeURIComponent(`^${prefix.replace(/[.|]/g, '\\$&')}`)}`);
  const result = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\S+): (\d+)$/.exec(line);
    if (match?.[1]?.startsWith(prefix)) result.set(match[1].slice(prefix.length), Number(match[2]));
  }
  return result;
}

/** Runs `count` calls, `concurrency` at a time, and returns their outcomes in completion order. */
export async function repeat<T>(count: number, call: () => Promise<T>, concurrency = 1): Promise<T[]> {
  const results: T[] = [];
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started += 1;
      results.push(await call());
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** Follows keys (object fields, or array indexes as numbers) through parsed JSON; undefined once one is missing. */
export function at(value: unknown, ...keys: (string | number)[]): unknown {
  let current = value;
  for (const key of keys) {
    if (typeof key === 'number') current = Array.isArray(current) ? current[key] : undefined;
    else current = typeof current === 'object' && current !== null && !Array.isArray(current) && Object.hasOwn(current, key) ? Reflect.get(current, key) : undefined;
  }
  return current;
}
