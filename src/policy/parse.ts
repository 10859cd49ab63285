/** Policy ConfigMap -> validated, resolved policies and every problem, each document on its own. */
import type { ModelPolicy, PolicySource } from '../model/types.ts';
import type { ConfigMapObject } from '../sources/types.ts';
import { resolvePolicyWithProvenance, type PolicyDefaults } from './defaults.ts';
import { parseConfigMapDocuments } from './documents.ts';
import type { PolicyError } from './errors.ts';
import { policyDocumentSchema } from './schema.ts';

export const POLICY_LABEL = 'infermesh.io/policy';

export interface ParsedPolicies {
  policies: ModelPolicy[];
  errors: PolicyError[];
}

export function isPolicyConfigMap(cm: Pick<ConfigMapObject, 'labels'>): boolean {
  return cm.labels[POLICY_LABEL] === 'true';
}

/**
 * Every data key ending in .yaml/.yml holds one policy document or a YAML list of them.
 * `layers` are defaults applied under each document (see resolvePolicy).
 */
export function parsePolicyConfigMapWithDefaults(cm: ConfigMapObject, layers: readonly PolicyDefaults[]): ParsedPolicies {
  const parsed = parseConfigMapDocuments(cm, {
    schema: policyDocumentSchema,
    label: POLICY_LABEL,
    noun: 'policy document',
    expected: 'a mapping with model and backends, or a list of them',
    build: (document, key, index) => {
      const source: PolicySource = {
        namespace: cm.namespace,
        configMap: cm.name,
        key,
        index,
        createdAt: cm.creationTimestamp,
        ...(cm.resourceVersion !== undefined ? { resourceVersion: cm.resourceVersion } : {}),
      };
      const { policy, provenance } = resolvePolicyWithProvenance(document, source, layers);
      return { ...policy, provenance };
    },
  });
  return { policies: parsed.values, errors: parsed.errors };
}

/** parsePolicyConfigMapWithDefaults with built-in defaults only. Takes one argument, so it is safe in `.map()`. */
export function parsePolicyConfigMap(cm: ConfigMapObject): ParsedPolicies {
  return parsePolicyConfigMapWithDefaults(cm, []);
}
