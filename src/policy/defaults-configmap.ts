/** Defaults ConfigMaps (`infermesh.io/defaults: "true"`): cluster-wide in the control plane's namespace, per namespace elsewhere. */
import type { ConfigMapObject } from '../sources/types.ts';
import type { PolicyDefaults } from './defaults.ts';
import { parseConfigMapDocuments } from './documents.ts';
import type { PolicyError } from './errors.ts';
import { policyDefaultsSchema } from './schema.ts';

export const DEFAULTS_LABEL = 'infermesh.io/defaults';

export function isDefaultsConfigMap(cm: Pick<ConfigMapObject, 'labels'>): boolean {
  return cm.labels[DEFAULTS_LABEL] === 'true';
}

/** One defaults document and where it lives. */
export interface NamespacedDefaults {
  namespace: string;
  configMap: string;
  key: string;
  index: number;
  layer: PolicyDefaults;
}

/** Every defaults document of every defaults ConfigMap, and every problem with them. */
export function parseDefaults(configMaps: readonly ConfigMapObject[], controlPlaneNamespace: string): { defaults: NamespacedDefaults[]; errors: PolicyError[] } {
  const defaults: NamespacedDefaults[] = [];
  const errors: PolicyError[] = [];
  for (const cm of configMaps.filter(isDefaultsConfigMap)) {
    const scope = cm.namespace === controlPlaneNamespace ? 'global' : 'namespace';
    const parsed = parseConfigMapDocuments(cm, {
      schema: policyDefaultsSchema,
      label: DEFAULTS_LABEL,
      noun: 'defaults document',
      expected: 'a mapping of policy fields other than model, aliases and backends',
      build: (values, key, index): NamespacedDefaults => ({
        namespace: cm.namespace,
        configMap: cm.name,
        key,
        index,
        layer: { name: `${scope} ${cm.namespace}/${cm.name}`, values },
      }),
    });
    defaults.push(...parsed.values);
    errors.push(...parsed.errors);
  }
  return { defaults, errors };
}

function byLocation(a: NamespacedDefaults, b: NamespacedDefaults): number {
  const left = `${a.configMap}\0${a.key}\0${String(a.index).padStart(6, '0')}`;
  const right = `${b.configMap}\0${b.key}\0${String(b.index).padStart(6, '0')}`;
  return left < right ? -1 : left > right ? 1 : 0;
}

/**
 * The layers for one namespace, lowest precedence first: global (the control plane's namespace), then the
 * namespace's own; within a namespace, ConfigMaps in name order, later winning. The policy beats them all.
 */
export function layersFor(namespace: string, defaults: readonly NamespacedDefaults[], controlPlaneNamespace: string): PolicyDefaults[] {
  const global = defaults.filter((d) => d.namespace === controlPlaneNamespace).sort(byLocation);
  const own = namespace === controlPlaneNamespace ? [] : defaults.filter((d) => d.namespace === namespace).sort(byLocation);
  return [...global, ...own].map((d) => d.layer);
}
