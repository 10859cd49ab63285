/** Shared by the Triton and TF Serving parsers: field checks and combining several versions' answers. */
import type { ModelAnswer } from './types.ts';
import { ProbeError } from './bounded-http.ts';

const RANK: Record<ModelAnswer['state'], number> = { ready: 2, loading: 1, 'not-loaded': 0 };

/** Ready beats loading beats not loaded (a model ref without a version is ready if any version is). */
export function bestAnswer(answers: readonly ModelAnswer[]): ModelAnswer | undefined {
  let best: ModelAnswer | undefined;
  for (const answer of answers) if (best === undefined || RANK[answer.state] > RANK[best.state]) best = answer;
  return best;
}

export function optionalString(value: unknown, what: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new ProbeError('failure', `${what} is a ${typeof value}, not a string`);
  return value;
}

/** Versions are strings in both servers' JSON (int64 in proto3 JSON); a plain integer is accepted too. */
export function versionString(value: unknown, what: string): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return optionalString(value, what);
}
