/**
 * The OpenAI-compatible REST paths model servers offer beside their own API (Triton's OpenAI frontend, vLLM,
 * TGI...), just enough for body routing tests (policy modelFromBody): POST /v1/chat/completions,
 * /v1/completions and /v1/embeddings answer 200 with the body's "model", who served it, and the routing
 * headers the pod received (`received`: the model header and x-infermesh-model-source, null when absent),
 * so a test sees what reached the pod. A model the pod has not loaded gets 404, as the real servers answer.
 */
import { parseJsonBody, pick, sendJson, type FakeHttpRequest, type FakeHttpResponse, type FakeServerState } from './fake-server-core.ts';

export const OPENAI_PATHS: Readonly<Record<string, string>> = {
  '/v1/chat/completions': 'chat.completion',
  '/v1/completions': 'text_completion',
  '/v1/embeddings': 'list',
};

/** Headers reported back in `received`. */
const REPORTED_HEADERS = ['x-model', 'x-model-version', 'x-infermesh-model-source'];

/** Answers an OpenAI-style request; false if the path is not one (the personality answers it). */
export function handleOpenAi(state: FakeServerState, request: FakeHttpRequest, response: FakeHttpResponse, body: Buffer): boolean {
  const path = new URL(request.url ?? '/', 'http://fake').pathname;
  const object = OPENAI_PATHS[path];
  if (object === undefined) return false;
  const identity = { served_by: state.pod, model_version: state.version };
  if (request.method !== 'POST') {
    sendJson(response, 405, { error: `use POST for ${path}`, ...identity });
    return true;
  }
  const parsed = parseJsonBody(body);
  const model = parsed.ok ? pick(parsed.value, 'model') : undefined;
  if (typeof model !== 'string') {
    sendJson(response, 400, { error: parsed.ok ? 'the body has no "model" string' : parsed.error, ...identity });
    return true;
  }
  state.requestsByModel.set(model, (state.requestsByModel.get(model) ?? 0) + 1);
  const received = Object.fromEntries(REPORTED_HEADERS.map((name) => [name, headerValue(request, name)]));
  if (!state.repository.isReady(model)) {
    sendJson(response, 404, { error: `The model \`${model}\` does not exist.`, received, ...identity });
    return true;
  }
  sendJson(response, 200, { object, model, received, ...identity });
  return true;
}

function headerValue(request: FakeHttpRequest, name: string): string | null {
  const value = request.headers?.[name];
  return typeof value === 'string' ? value : Array.isArray(value) ? value.join(',') : null;
}
