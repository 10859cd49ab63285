/** POST (create), PUT (update, optimistic concurrency), PATCH (merge / strategic-merge / JSON patch), DELETE. */
import type { IncomingMessage } from 'node:http';
import type { KubeObject, ParsedPath } from './kinds.ts';
import { jsonPatch, mergePatch } from './patch.ts';
import { apiError } from './status.ts';
import { notFound, type ObjectStore } from './store.ts';

export interface WriteResult {
  code: number;
  body: unknown;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

export async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw apiError(400, `couldn't get version/kind; json parse error: ${(error as Error).message}`, 'BadRequest');
  }
}

/** The body as an object of this resource, in its stored form, with the URL's namespace. */
function objectFromBody(target: ParsedPath, body: unknown): KubeObject {
  const { view, namespace } = target;
  if (!isRecord(body)) throw apiError(400, 'the body of the request must be a JSON object', 'BadRequest');
  if (body['apiVersion'] !== undefined && body['apiVersion'] !== view.apiVersion) {
    throw apiError(400, `the API version in the data (${String(body['apiVersion'])}) does not match the expected API version (${view.apiVersion})`, 'BadRequest');
  }
  if (body['kind'] !== undefined && body['kind'] !== view.info.kind) {
    throw apiError(400, `the kind in the data (${String(body['kind'])}) does not match the expected kind (${view.info.kind})`, 'BadRequest');
  }
  const object = view.fromWire({ ...body, metadata: isRecord(body['metadata']) ? { ...body['metadata'] } : {} } as KubeObject);
  if (view.info.namespaced) {
    if (object.metadata.namespace && object.metadata.namespace !== namespace) {
      throw apiError(400, 'the namespace of the provided object does not match the namespace sent on the request', 'BadRequest');
    }
    object.metadata.namespace = namespace;
  }
  return object;
}

function checkName(object: KubeObject, name: string): void {
  if (object.metadata.name !== name) {
    throw apiError(400, `the name of the object (${object.metadata.name ?? ''}) does not match the name on the URL (${name})`, 'BadRequest');
  }
}

export function create(target: ParsedPath, body: unknown, store: ObjectStore): WriteResult {
  const created = store.create(target.view.info.kind, objectFromBody(target, body));
  return { code: 201, body: target.view.toWire(created) };
}

export function replace(target: ParsedPath, name: string, body: unknown, store: ObjectStore): WriteResult {
  const object = objectFromBody(target, body);
  checkName(object, name);
  const existed = store.get(target.view.info.kind, target.namespace, name) !== undefined;
  const updated = store.update(target.view.info.kind, object);
  return { code: existed ? 200 : 201, body: target.view.toWire(updated) };
}

const MERGE_TYPES = ['application/merge-patch+json', 'application/strategic-merge-patch+json'];
const JSON_PATCH = 'application/json-patch+json';

export function patch(target: ParsedPath, name: string, contentType: string, body: unknown, store: ObjectStore): WriteResult {
  const { view, namespace } = target;
  const type = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  if (!MERGE_TYPES.includes(type) && type !== JSON_PATCH) {
    throw apiError(
      415,
      `the body of the request was in an unknown format - accepted media types include: ${JSON_PATCH}, ${MERGE_TYPES.join(', ')}`,
      'UnsupportedMediaType',
    );
  }
  const existing = store.get(view.info.kind, namespace, name);
  if (!existing) throw notFound(view.info.kind, name);
  const current = view.toWire(existing);
  const patched = type === JSON_PATCH ? jsonPatch(current, body) : mergePatch(current, body);
  if (!isRecord(patched)) throw apiError(422, 'the patch must leave an object', 'Invalid');
  const object = objectFromBody(target, { ...patched, apiVersion: view.apiVersion, kind: view.info.kind });
  checkName(object, name);
  // A resourceVersion left in the patched object is a precondition (409 if stale), as with PUT.
  return { code: 200, body: view.toWire(store.update(view.info.kind, object)) };
}

export function remove(target: ParsedPath, name: string, body: unknown, store: ObjectStore): WriteResult {
  const { view, namespace } = target;
  const preconditions = isRecord(body) && isRecord(body['preconditions']) ? body['preconditions'] : {};
  const deleted = store.remove(view.info.kind, namespace, name, {
    ...(typeof preconditions['uid'] === 'string' ? { uid: preconditions['uid'] } : {}),
    ...(typeof preconditions['resourceVersion'] === 'string' ? { resourceVersion: preconditions['resourceVersion'] } : {}),
  });
  return {
    code: 200,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: { name, ...(view.group ? { group: view.group } : {}), kind: view.resource, uid: deleted.metadata.uid },
    },
  };
}
