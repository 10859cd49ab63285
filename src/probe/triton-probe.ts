/**
 * Triton: one `POST /v2/repository/index` per pod answers for every model and version it knows
 * (state READY / LOADING / UNAVAILABLE / UNLOADING, with Triton's reason). Models the index does not list
 * are not loaded.
 */
import type * as http from 'node:http';
import { modelRefKey, type ModelAnswer, type ModelRef, type ProbePod, type ProbeTarget } from './types.ts';
import { ProbeError, requestJson } from './bounded-http.ts';
import { bestAnswer, optionalString, versionString } from './answers.ts';

export interface TritonIndexEntry {
  name: string;
  version?: string;
  state?: string;
  reason?: string;
}

/** Validates the index body's shape; garbage is a ProbeError, never a crash. */
export function parseTritonIndex(body: unknown): TritonIndexEntry[] {
  if (!Array.isArray(body)) throw new ProbeError('failure', `repository index: expected a JSON array, got ${describe(body)}`);
  return body.map((item: unknown, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ProbeError('failure', `repository index: entry ${index} is ${describe(item)}, not an object`);
    }
    const record = item as Record<string, unknown>;
    if (typeof record['name'] !== 'string') throw new ProbeError('failure', `repository index: entry ${index} has no string "name"`);
    const entry: TritonIndexEntry = { name: record['name'] };
    const version = versionString(record['version'], `repository index: entry ${index} "version"`);
    const state = optionalString(record['state'], `repository index: entry ${index} "state"`);
    const reason = optionalString(record['reason'], `repository index: entry ${index} "reason"`);
    if (version !== undefined) entry.version = version;
    if (state !== undefined) entry.state = state;
    if (reason !== undefined && reason !== '') entry.reason = reason;
    return entry;
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

function entryAnswer(entry: TritonIndexEntry): ModelAnswer {
  switch (entry.state) {
    case 'READY':
      return { state: 'ready' };
    case 'LOADING':
      return { state: 'loading', reason: entry.reason ?? 'LOADING' };
    default: {
      const state = entry.state ?? 'not loaded';
      return { state: 'not-loaded', reason: entry.reason === undefined ? state : `${state}: ${entry.reason}` };
    }
  }
}

/** The answer for each ref: with a version, that version's entry; without, the best of the model's entries. */
export function tritonAnswers(entries: readonly TritonIndexEntry[], models: readonly ModelRef[]): Map<string, ModelAnswer> {
  const answers = new Map<string, ModelAnswer>();
  // By name once: a pod with a thousand models must not cost a thousand scans of its index.
  const byName = new Map<string, TritonIndexEntry[]>();
  for (const entry of entries) {
    const list = byName.get(entry.name);
    if (list) list.push(entry);
    else byName.set(entry.name, [entry]);
  }
  for (const ref of models) {
    const matching = (byName.get(ref.model) ?? []).filter((entry) => ref.version === undefined || entry.version === ref.version);
    const answer = bestAnswer(matching.map(entryAnswer));
    answers.set(
      modelRefKey(ref),
      answer ?? {
        state: 'not-loaded',
        reason: ref.version === undefined ? 'not in the repository index' : `version ${ref.version} not in the repository index`,
      },
    );
  }
  return answers;
}

export interface HttpProbeOptions {
  timeoutMs: number;
  maxResponseBytes: number;
  agent?: http.Agent;
}

export function createTritonProbe(options: HttpProbeOptions): ProbePod {
  return async (target: ProbeTarget, signal: AbortSignal) => {
    const response = await requestJson({
      host: target.address,
      port: target.port,
      method: 'POST',
      path: '/v2/repository/index',
      body: {},
      timeoutMs: options.timeoutMs,
      maxBytes: options.maxResponseBytes,
      signal,
      ...(options.agent === undefined ? {} : { agent: options.agent }),
    });
    return tritonAnswers(parseTritonIndex(response.body), target.models);
  };
}
