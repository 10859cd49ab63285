/**
 * GET of a collection: a consistent list at one resourceVersion, with selectors, `limit`/`continue`
 * pagination (continue tokens pin the snapshot's resourceVersion, so pages stay consistent until that
 * version is compacted: 410), and the resourceVersion / resourceVersionMatch semantics of the API docs.
 */
import type { KubeObject, ParsedPath } from './kinds.ts';
import { requestMatcher } from './selectors.ts';
import { apiError, ApiError, failure } from './status.ts';
import type { ObjectStore } from './store.ts';

interface ContinueToken {
  v: string;
  rv: number;
  start: string;
}

const CONTINUE_TOO_OLD =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

const encodeContinue = (rv: number, start: string): string => Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url');

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as Partial<ContinueToken>;
    if (parsed.v === 'meta.k8s.io/v1' && typeof parsed.rv === 'number' && typeof parsed.start === 'string') return parsed as ContinueToken;
  } catch {
    // fall through
  }
  throw apiError(400, 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)', 'BadRequest');
}

/** resourceVersion as a number ("" -> undefined); 400 for anything that is not a version. */
export function parseResourceVersion(value: string | null): number | undefined {
  if (value === null || value === '') return undefined;
  if (!/^\d+$/.test(value)) throw apiError(400, `invalid resource version: ${value}`, 'BadRequest');
  return Number(value);
}

function tooLarge(requested: number, current: number): ApiError {
  return new ApiError(
    failure(504, `Too large resource version: ${requested}, current: ${current}`, 'Timeout', {
      causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
      retryAfterSeconds: 1,
    }),
  );
}

/** ListOptions validation failures are 422 Invalid, as the API server's ValidateListOptions. */
const invalidOptions = (message: string): ApiError => apiError(422, `ListOptions.meta.k8s.io "" is invalid: ${message}`, 'Invalid');

/** Which version to read: the current state, or an older consistent snapshot. */
function readVersion(query: URLSearchParams, store: ObjectStore): { rv: number; start: string } {
  const token = query.get('continue');
  const rvParam = query.get('resourceVersion');
  const match = query.get('resourceVersionMatch');
  if (token) {
    if (rvParam && rvParam !== '0') throw apiError(400, 'specifying resource version is not allowed when using continue', 'BadRequest');
    const { rv, start } = decodeContinue(token);
    return { rv, start };
  }
  const rv = parseResourceVersion(rvParam);
  if (match !== null && match !== '' && match !== 'Exact' && match !== 'NotOlderThan') {
    throw invalidOptions(`resourceVersionMatch: Unsupported value: "${match}": supported values: "Exact", "NotOlderThan"`);
  }
  if (match && rv === undefined) throw invalidOptions('resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
  if (match === 'Exact' && rv === 0) throw invalidOptions('resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
  if (rv !== undefined && rv > store.resourceVersion) throw tooLarge(rv, store.resourceVersion);
  if (match === 'Exact' && rv !== undefined) return { rv, start: '' };
  return { rv: store.resourceVersion, start: '' };
}

export function listObjects(target: ParsedPath, query: URLSearchParams, store: ObjectStore): Record<string, unknown> {
  const { view, namespace } = target;
  const matches = requestMatcher(view.info.kind, query.get('labelSelector'), query.get('fieldSelector'));
  const { rv, start } = readVersion(query, store);
  const snapshot = rv === store.resourceVersion ? store.list(view.info.kind) : store.snapshot(view.info.kind, rv);
  if (!snapshot) {
    if (query.get('continue')) {
      const status = failure(410, CONTINUE_TOO_OLD, 'Expired');
      status.metadata.continue = encodeContinue(store.resourceVersion, start);
      throw new ApiError(status);
    }
    throw apiError(410, 'The resourceVersion for the provided list is too old.', 'Expired');
  }
  const keyOf = (object: KubeObject): string => `${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
  const selected = snapshot.filter(
    (object) => (namespace === undefined || object.metadata.namespace === namespace) && keyOf(object) >= start && matches(object),
  );
  const limit = Number(query.get('limit') ?? '0');
  const page = limit > 0 ? selected.slice(0, limit) : selected;
  const last = page.at(-1);
  const more = page.length < selected.length && last !== undefined;
  const everything = !query.get('labelSelector') && !query.get('fieldSelector');
  return {
    kind: `${view.info.kind}List`,
    apiVersion: view.apiVersion,
    metadata: {
      resourceVersion: String(rv),
      ...(more ? { continue: encodeContinue(rv, `${keyOf(last)}\u0000`) } : {}),
      ...(more && everything ? { remainingItemCount: selected.length - page.length } : {}),
    },
    // As real API servers do, list items carry no kind/apiVersion (the list's own do).
    items: page.map((object) => {
      const { kind: _kind, apiVersion: _apiVersion, ...item } = view.toWire(object);
      return item;
    }),
  };
}
