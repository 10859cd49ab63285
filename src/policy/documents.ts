/** Shared reading of infermesh ConfigMaps: every .yaml/.yml data key holds documents validated by one schema. */
import type { z } from 'zod';
import type { ConfigMapObject } from '../sources/types.ts';
import { quote } from '../util/printable.ts';
import { formatPath, type PolicyError } from './errors.ts';
import { toFieldProblems } from './issues.ts';
import { MODEL_NAME } from './schema.ts';
import { readPlainYaml, readYaml, type YamlDocument } from './yaml.ts';

const DOCUMENT_KEY = /\.ya?ml$/;

export interface ParsedDocuments<T> {
  values: T[];
  errors: PolicyError[];
}

export interface DocumentKind<S extends z.ZodType, T> {
  schema: S;
  /** The label that marks these ConfigMaps, for the "no documents" message. */
  label: string;
  /** What one document is called in messages, e.g. "policy document". */
  noun: string;
  /** What a document should look like, for the "holds no document" message. */
  expected: string;
  build(value: z.output<S>, key: string, index: number): T;
}

/** The model a (possibly invalid) document claims, when it names a valid one. */
function claimedModel(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('model' in value)) return undefined;
  const model = value.model;
  return typeof model === 'string' && MODEL_NAME.test(model) ? model : undefined;
}

/** Problems in reading order (stable for those at the same place). */
function byPosition(a: PolicyError, b: PolicyError): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? Infinity) - (b.column ?? Infinity) || 0;
}

function parseDocument<S extends z.ZodType, T>(
  cm: ConfigMapObject,
  key: string,
  index: number,
  document: YamlDocument,
  locate: (node: YamlDocument['node'], path: readonly PropertyKey[], atKey: boolean) => { line: number; column: number } | undefined,
  kind: DocumentKind<S, T>,
): ParsedDocuments<T> {
  const result = kind.schema.safeParse(document.value);
  if (result.success) return { values: [kind.build(result.data, key, index)], errors: [] };
  const model = claimedModel(document.value);
  const errors = toFieldProblems(kind.schema, result.error.issues).map((problem): PolicyError => {
    const position = locate(document.node, problem.path, problem.atKey);
    return {
      namespace: cm.namespace,
      configMap: cm.name,
      key,
      index,
      ...(model !== undefined ? { model } : {}),
      path: formatPath(problem.path),
      message: problem.message,
      kind: 'invalid',
      ...(position ? { line: position.line, column: position.column } : {}),
    };
  });
  return { values: [], errors: errors.sort(byPosition) };
}

/**
 * The fast path: plain YAML whose every document validates needs no node positions. Anything else returns
 * undefined and is read again by parseKey, so every problem is reported exactly as the full reader finds it.
 */
function parseValidKey<S extends z.ZodType, T>(cm: ConfigMapObject, key: string, kind: DocumentKind<S, T>): ParsedDocuments<T> | undefined {
  const documents = readPlainYaml(cm.data[key] ?? '');
  if (documents === undefined || documents.length === 0) return undefined;
  const values: T[] = [];
  for (const [index, document] of documents.entries()) {
    const result = kind.schema.safeParse(document);
    if (!result.success) return undefined;
    values.push(kind.build(result.data, key, index));
  }
  return { values, errors: [] };
}

function parseKey<S extends z.ZodType, T>(cm: ConfigMapObject, key: string, kind: DocumentKind<S, T>): ParsedDocuments<T> {
  const valid = parseValidKey(cm, key, kind);
  if (valid) return valid;
  const where = { namespace: cm.namespace, configMap: cm.name, key, path: '' };
  const read = readYaml(cm.data[key] ?? '');
  if (!read.ok) {
    const at = read.position ? { line: read.position.line, column: read.position.column } : {};
    return { values: [], errors: [{ ...where, message: read.message, kind: 'yaml', ...at }] };
  }
  if (read.documents.length === 0) {
    return { values: [], errors: [{ ...where, message: `holds no ${kind.noun}: expected ${kind.expected}`, kind: 'invalid' }] };
  }
  const parsed = read.documents.map((document, index) => parseDocument(cm, key, index, document, read.locate, kind));
  return { values: parsed.flatMap((p) => p.values), errors: parsed.flatMap((p) => p.errors) };
}

/**
 * Every data key ending in .yaml/.yml holds one document or a YAML list of them; other keys are ignored.
 * Keys in sorted order; each document is validated on its own, so one bad document rejects only itself.
 */
export function parseConfigMapDocuments<S extends z.ZodType, T>(cm: ConfigMapObject, kind: DocumentKind<S, T>): ParsedDocuments<T> {
  const keys = Object.keys(cm.data).filter((key) => DOCUMENT_KEY.test(key)).sort();
  if (keys.length === 0) {
    const present = Object.keys(cm.data).sort();
    const found = present.length === 0 ? 'it has no data keys' : `its keys are ${present.map((k) => quote(k)).join(', ')}`;
    const message = `no ${kind.noun}s: a ConfigMap labelled ${kind.label}: "true" needs data keys ending in .yaml or .yml, but ${found}`;
    return { values: [], errors: [{ namespace: cm.namespace, configMap: cm.name, key: '', path: '', message, kind: 'invalid' }] };
  }
  const parsed = keys.map((key) => parseKey(cm, key, kind));
  return { values: parsed.flatMap((p) => p.values), errors: parsed.flatMap((p) => p.errors) };
}
