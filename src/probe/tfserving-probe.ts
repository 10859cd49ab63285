/**
 * TF Serving has no batch status API: one `GET /v1/models/M` per distinct model of the pod, which answers 200
 * with every version's state (AVAILABLE = ready; START / LOADING = loading; UNLOADING / END / UNKNOWN = not
 * loaded) or 404 for a model it does not know. Cost is pods x models for this server kind only. A version
 * that is not a number is a version label: `GET /v1/models/M/labels/L` answers for the version it points at.
 */
import { modelRefKey, type ModelAnswer, type ModelRef, type ProbePod, type ProbeTarget } from './types.ts';
import { ProbeError, requestJson } from './bounded-http.ts';
import { bestAnswer, optionalString, versionString } from './answers.ts';
import type { HttpProbeOptions } from './triton-probe.ts';

export interface TfServingVersionStatus {
  version: string;
  state: string;
  errorMessage?: string;
}

/** The versions of a 200 answer; garbage is a ProbeError, never a crash. */
export function parseTfServingStatus(body: unknown): TfServingVersionStatus[] {
  const list = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['model_version_status'] : undefined;
  if (!Array.isArray(list)) throw new ProbeError('failure', 'model status: no "model_version_status" array');
  return list.map((item: unknown, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ProbeError('failure', `model status: version entry ${index} is not an object`);
    }
    const record = item as Record<string, unknown>;
    const version = versionString(record['version'], `model status: entry ${index} "version"`);
    const state = optionalString(record['state'], `model status: entry ${index} "state"`);
    if (version === undefined || state === undefined) throw new ProbeError('failure', `model status: entry ${index} lacks "version" or "state"`);
    const status = record['status'];
    const message =
      typeof status === 'object' && status !== null
        ? optionalString((status as Record<string, unknown>)['error_message'], `model status: entry ${index} "status.error_message"`)
        : undefined;
    return message === undefined || message === '' ? { version, state } : { version, state, errorMessage: message };
  });
}

function versionAnswer(status: TfServingVersionStatus): ModelAnswer {
  if (status.state === 'AVAILABLE') return { state: 'ready' };
  const reason = status.errorMessage === undefined ? status.state : `${status.state}: ${status.errorMessage}`;
  if (status.state === 'START' || status.state === 'LOADING') return { state: 'loading', reason };
  return { state: 'not-loaded', reason };
}

/** Answers for the refs of one model from its status (a 404 means the model is not loaded at all). */
export function tfServingAnswers(
  response: { status: number; body: unknown },
  refs: readonly ModelRef[],
): Map<string, ModelAnswer> {
  const answers = new Map<string, ModelAnswer>();
  if (response.status === 404) {
    const error = typeof response.body === 'object' && response.body !== null ? (response.body as Record<string, unknown>)['error'] : undefined;
    const reason = typeof error === 'string' && error !== '' ? error : 'HTTP 404';
    for (const ref of refs) answers.set(modelRefKey(ref), { state: 'not-loaded', reason });
    return answers;
  }
  const versions = parseTfServingStatus(response.body);
  for (const ref of refs) {
    const matching = versions.filter((status) => ref.version === undefined || status.version === ref.version);
    answers.set(
      modelRefKey(ref),
      bestAnswer(matching.map(versionAnswer)) ?? {
        state: 'not-loaded',
        reason: ref.version === undefined ? 'no versions listed' : `version ${ref.version} not listed`,
      },
    );
  }
  return answers;
}

/** TF Serving versions are int64; any other version a policy names is a version label. */
export function isVersionLabel(version: string | undefined): version is string {
  return version !== undefined && !/^\d+$/.test(version);
}

/**
 * The status requests a pod's refs need: one per model for unversioned and numeric-version refs, plus one per
 * version label (`/labels/L` answers with the version the label points at).
 */
export function tfServingRequests(models: readonly ModelRef[]): { path: string; refs: ModelRef[]; label: boolean }[] {
  const requests = new Map<string, { path: string; refs: ModelRef[]; label: boolean }>();
  for (const ref of models) {
    const label = isVersionLabel(ref.version);
    const path = `/v1/models/${encodeURIComponent(ref.model)}${label ? `/labels/${encodeURIComponent(ref.version as string)}` : ''}`;
    const request = requests.get(path) ?? { path, refs: [], label };
    request.refs.push(ref);
    requests.set(path, request);
  }
  return [...requests.values()];
}

export function createTfServingProbe(options: HttpProbeOptions): ProbePod {
  return async (target: ProbeTarget, signal: AbortSignal) => {
    const results = await Promise.all(
      tfServingRequests(target.models).map(async ({ path, refs, label }) => {
        const response = await requestJson({
          host: target.address,
          port: target.port,
          method: 'GET',
          path,
          timeoutMs: options.timeoutMs,
          maxBytes: options.maxResponseBytes,
          signal,
          acceptStatus: [200, 404],
          ...(options.agent === undefined ? {} : { agent: options.agent }),
        });
        if (!label) return tfServingAnswers(response, refs);
        // The answer lists the labelled version (by number): any of it ready is the label ready.
        const answers = tfServingAnswers(response, [{ model: refs[0]?.model ?? '' }]);
        const answer = [...answers.values()][0];
        return new Map(refs.flatMap((ref) => (answer === undefined ? [] : [[modelRefKey(ref), answer] as const])));
      }),
    );
    return new Map(results.flatMap((answers) => [...answers]));
  };
}
