/** JSON merge patch (RFC 7386) and JSON patch (RFC 6902), the patch formats the fake accepts. */
import { apiError } from './status.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (value: unknown): value is Record<string, Json> => typeof value === 'object' && value !== null && !Array.isArray(value);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

interface Operation {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

const invalid = (message: string): Error => apiError(422, message, 'Invalid');

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw invalid(`invalid JSON pointer "${path}"`);
  return path.slice(1).split('/').map((token) => token.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** The container holding the last token of `path`, and that token. */
function locate(doc: unknown, path: string): { parent: Record<string, unknown> | unknown[]; key: string } {
  const tokens = pointer(path);
  const key = tokens.pop();
  if (key === undefined) throw invalid('operations on the document root are not supported');
  let parent: unknown = doc;
  for (const token of tokens) {
    parent = Array.isArray(parent) ? parent[Number(token)] : isObject(parent) ? parent[token] : undefined;
    if (parent === undefined) throw invalid(`path "${path}" does not exist`);
  }
  if (!Array.isArray(parent) && !isObject(parent)) throw invalid(`path "${path}" does not exist`);
  return { parent, key };
}

function read(doc: unknown, path: string): unknown {
  const { parent, key } = locate(doc, path);
  const value = Array.isArray(parent) ? parent[Number(key)] : parent[key];
  if (value === undefined) throw invalid(`path "${path}" does not exist`);
  return value;
}

function add(doc: unknown, path: string, value: unknown, replace: boolean): void {
  const { parent, key } = locate(doc, path);
  if (Array.isArray(parent)) {
    const index = key === '-' ? parent.length : Number(key);
    if (!Number.isInteger(index) || index < 0 || index > parent.length || (replace && index >= parent.length)) throw invalid(`index out of range in "${path}"`);
    parent.splice(index, replace ? 1 : 0, structuredClone(value));
  } else {
    if (replace && !Object.hasOwn(parent, key)) throw invalid(`path "${path}" does not exist`);
    parent[key] = structuredClone(value);
  }
}

function remove(doc: unknown, path: string): void {
  const { parent, key } = locate(doc, path);
  if (Array.isArray(parent)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= parent.length) throw invalid(`index out of range in "${path}"`);
    parent.splice(index, 1);
  } else {
    if (!Object.hasOwn(parent, key)) throw invalid(`path "${path}" does not exist`);
    delete parent[key];
  }
}

export function jsonPatch(target: unknown, operations: unknown): unknown {
  if (!Array.isArray(operations)) throw apiError(400, 'a JSON patch must be an array of operations', 'BadRequest');
  const doc = structuredClone(target);
  for (const operation of operations as Operation[]) {
    switch (operation.op) {
      case 'add':
        add(doc, operation.path, operation.value, false);
        break;
      case 'replace':
        add(doc, operation.path, operation.value, true);
        break;
      case 'remove':
        remove(doc, operation.path);
        break;
      case 'move':
      case 'copy': {
        const value = read(doc, operation.from ?? '');
        if (operation.op === 'move') remove(doc, operation.from ?? '');
        add(doc, operation.path, value, false);
        break;
      }
      case 'test':
        if (JSON.stringify(read(doc, operation.path)) !== JSON.stringify(operation.value)) throw invalid(`testing value ${operation.path} failed`);
        break;
      default:
        throw apiError(400, `unexpected kind of JSON patch operation: "${String(operation.op)}"`, 'BadRequest');
    }
  }
  return doc;
}
