/**
 * The fake pod's admin path, on its REST port next to the server API, for manual use (curl) and for tests
 * that drive a pod from outside the process:
 *
 *   POST /fake/load?model=M[&version=V][&loadingMs=N][&fail=MESSAGE]  -> 200 {model, version, state}
 *        (answers at once; the version is "loading" until loadingMs has passed, then "ready" or "failed")
 *   POST /fake/unload?model=M[&version=V]                             -> 200 {models: [...states of M]}
 *   GET  /fake/models                                                 -> 200 {models: [{model, version, state, reason}]}
 *
 * States are the neutral ones of fake-repository.ts. 400 for a missing model or a bad loadingMs.
 */
import { methodNotAllowed, sendJson, type FakeHttpResponse, type FakeServerState } from './fake-server-core.ts';

export const ADMIN_PREFIX = '/fake/';

/** Answers an admin request; false if `url` is not under /fake/ (the personality answers it). */
export function handleAdmin(state: FakeServerState, method: string, url: URL, response: FakeHttpResponse): boolean {
  if (!url.pathname.startsWith(ADMIN_PREFIX)) return false;
  const action = url.pathname.slice(ADMIN_PREFIX.length);
  const repository = state.repository;
  if (action === 'models') {
    if (method !== 'GET') methodNotAllowed(response, 'GET');
    else sendJson(response, 200, { models: repository.index() });
    return true;
  }
  if (action !== 'load' && action !== 'unload') {
    sendJson(response, 404, { error: `no such admin endpoint: ${url.pathname}; use /fake/load, /fake/unload, /fake/models` });
    return true;
  }
  if (method !== 'POST') {
    methodNotAllowed(response, 'POST');
    return true;
  }
  const model = url.searchParams.get('model') ?? '';
  if (model === '') {
    sendJson(response, 400, { error: 'model= is required' });
    return true;
  }
  const version = url.searchParams.get('version') || undefined;
  if (action === 'unload') {
    repository.unload(model, version);
    sendJson(response, 200, { models: repository.versions(model) });
    return true;
  }
  const loadingMs = Number(url.searchParams.get('loadingMs') ?? '0');
  if (!(Number.isFinite(loadingMs) && loadingMs >= 0)) {
    sendJson(response, 400, { error: `loadingMs must be a number >= 0, got ${url.searchParams.get('loadingMs')}` });
    return true;
  }
  const fail = url.searchParams.get('fail') ?? undefined;
  const chosen = version ?? repository.defaultVersion;
  void repository.load(model, chosen, { loadingMs, ...(fail === undefined ? {} : { fail }) });
  sendJson(response, 200, repository.status(model, chosen) ?? { model, version: chosen });
  return true;
}
