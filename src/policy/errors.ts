/** Problems found in policy ConfigMaps. Every one names where it is and what would be valid. */
import { excerpt, printableLine, quote } from '../util/printable.ts';

/** Kubernetes names are at most 253 characters; a folder may hold anything, so longer ones are cut. */
const NAME_LIMIT = 253;

export type PolicyErrorKind = 'invalid' | 'conflict' | 'yaml';

export interface PolicyError {
  namespace: string;
  configMap: string;
  /** The data key; "" when the problem concerns the ConfigMap as a whole. */
  key: string;
  /** Position of the document within the key; absent for problems with the key as a whole (YAML syntax). */
  index?: number;
  /** The model the document claims, when it names a valid one (so a caller can keep that model's last good version). */
  model?: string;
  /** Field path such as "backends[1].weight"; "" for the document (or key) itself. */
  path: string;
  /** What is wrong and what would be valid. Single line; values quoted and escaped. */
  message: string;
  kind: PolicyErrorKind;
  /** 1-based position in the key's YAML text, when known. */
  line?: number;
  column?: number;
}

/**
 * One line naming everything an operator needs, e.g.
 * `default/resnet50-policy key "policy.yaml" [doc 0] backends[1].weight: must be an integer >= 0, got -3 (line 7, column 13)`.
 */
export function formatPolicyError(error: PolicyError): string {
  let where = `${excerpt(error.namespace, NAME_LIMIT)}/${excerpt(error.configMap, NAME_LIMIT)}`;
  if (error.key !== '') where += ` key ${quote(error.key, NAME_LIMIT)}`;
  if (error.index !== undefined) where += ` [doc ${error.index}]`;
  if (error.path !== '') where += ` ${error.path}`;
  const at = error.line === undefined ? '' : ` (line ${error.line}${error.column === undefined ? '' : `, column ${error.column}`})`;
  return printableLine(`${where}: ${error.message}${at}`);
}

/** Dotted/indexed path from segments: ["backends", 1, "weight"] -> "backends[1].weight". */
export function formatPath(segments: readonly PropertyKey[]): string {
  let path = '';
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else path += path === '' ? excerpt(String(segment)) : `.${excerpt(String(segment))}`;
  }
  return path;
}
