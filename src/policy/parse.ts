/** Policy ConfigMap -> validated, resolved policies and every problem, each document on its own. */
import type { ModelPolicy, PolicySource } from '../model/types.ts';
import type { ConfigMapObject } from '../sources/types.ts';
import { resolvePolicy, type PolicyDefaults } from './defaults.ts';
import { formatPath, type PolicyError } from './errors.ts';
import { toFieldProblems } from './issues.ts';
import { MODEL_NAME, policyDocumentSchema } from './schema.ts';
import { readYaml, type YamlDocument } from './yaml.ts';

export const POLICY_LABEL = 'infermesh.io/policy';
const POLICY_KEY = /\.ya?ml$/;

export interface ParsedPolicies {
  policies: ModelPolicy[];
  errors: PolicyError[];
}

export function isPolicyConfigMap(cm: Pick<ConfigMapObject, 'labels'>): boolean {
  return cm.labels[POLICY_LABEL] === 'true';
}

/** The model a (possibly invalid) document claims, when it names a valid one. */
function claimedModel(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('model' in value)) return undefined;
  const model = value.model;
  return typeof model === 'string' && MODEL_NAME.test(model) ? model : undefined;
}

function parseDocument(
  cm: ConfigMapObject,
  key: string,
  index: number,
  document: YamlDocument,
  locate: (node: YamlDocument['node'], path: readonly PropertyKey[], atKey: boolean) => { line: number; column: number } | undefined,
  layers: readonly PolicyDefaults[],
): ParsedPolicies {
  const result = policyDocumentSchema.safeParse(document.value);
  if (result.success) {
    const source: PolicySource = {
      namespace: cm.namespace,
      configMap: cm.name,
      key,
      index,
      createdAt: cm.creationTimestamp,
      ...(cm.resourceVersion !== undefined ? { resourceVersion: cm.resourceVersion } : {}),
    };
    return { policies: [resolvePolicy(result.data, source, layers)], errors: [] };
  }
  const model = claimedModel(document.value);
  const errors = toFieldProblems(policyDocumentSchema, result.error.issues).map((problem): PolicyError => {
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
  return { policies: [], errors: errors.sort(byPosition) };
}

/** Problems in reading order (stable for those at the same place). */
function byPosition(a: PolicyError, b: PolicyError): number {
  return (a.line ?? Infinity) - (b.line ?? Infinity) || (a.column ?? Infinity) - (b.column ?? Infinity) || 0;
}

function parseKey(cm: ConfigMapObject, key: string, layers: readonly PolicyDefaults[]): ParsedPolicies {
  const where = { namespace: cm.namespace, configMap: cm.name, key, path: '' };
  const read = readYaml(cm.data[key] ?? '');
  if (!read.ok) {
    const at = read.position ? { line: read.position.line, column: read.position.column } : {};
    return { policies: [], errors: [{ ...where, message: read.message, kind: 'yaml', ...at }] };
  }
  if (read.documents.length === 0) {
    const message = 'holds no policy document: expected a mapping with model and backends, or a list of them';
    return { policies: [], errors: [{ ...where, message, kind: 'invalid' }] };
  }
  const parsed = read.documents.map((document, index) => parseDocument(cm, key, index, document, read.locate, layers));
  return { policies: parsed.flatMap((p) => p.policies), errors: parsed.flatMap((p) => p.errors) };
}

/**
 * Every data key ending in .yaml/.yml holds one policy document or a YAML list of them; other keys are
 * ignored. Keys in sorted order; each document is validated on its own, so one bad document rejects only itself.
 * `layers` are defaults applied under each document (see resolvePolicy).
 */
export function parsePolicyConfigMapWithDefaults(cm: ConfigMapObject, layers: readonly PolicyDefaults[]): ParsedPolicies {
  const keys = Object.keys(cm.data).filter((key) => POLICY_KEY.test(key)).sort();
  if (keys.length === 0) {
    const present = Object.keys(cm.data).sort();
    const found = present.length === 0 ? 'it has no data keys' : `its keys are ${present.map((k) => JSON.stringify(k)).join(', ')}`;
    const message = `no policy documents: a ConfigMap labelled ${POLICY_LABEL}: "true" needs data keys ending in .yaml or .yml, but ${found}`;
    return { policies: [], errors: [{ namespace: cm.namespace, configMap: cm.name, key: '', path: '', message, kind: 'invalid' }] };
  }
  const parsed = keys.map((key) => parseKey(cm, key, layers));
  return { policies: parsed.flatMap((p) => p.policies), errors: parsed.flatMap((p) => p.errors) };
}

/** parsePolicyConfigMapWithDefaults with built-in defaults only. Takes one argument, so it is safe in `.map()`. */
export function parsePolicyConfigMap(cm: ConfigMapObject): ParsedPolicies {
  return parsePolicyConfigMapWithDefaults(cm, []);
}
