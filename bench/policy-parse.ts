/**
 * Policy parsing alone, per ConfigMap of one small document (bench/world.ts's policy): the fast path (plain
 * YAML that validates), the same document through the full `yaml` reader (a tab in a comment sends it there:
 * what every policy cost before), and an invalid one (read fast, then again with positions).
 * Run alone: node bench/policy-parse.ts [count].
 */
import { parsePolicyConfigMap } from '../src/policy/parse.ts';
import { readPlainYaml } from '../src/policy/yaml.ts';
import type { ConfigMapObject } from '../src/sources/types.ts';
import { modelPolicy } from './world.ts';

export interface PolicyParseFigures {
  policies: number;
  fastUs: number;
  fullReaderUs: number;
  invalidUs: number;
}

function withText(cm: ConfigMapObject, edit: (text: string) => string): ConfigMapObject {
  return { ...cm, data: { 'policy.yaml': edit(cm.data['policy.yaml'] ?? '') } };
}

/** Best of three rounds, microseconds per ConfigMap. */
function usPer(configMaps: readonly ConfigMapObject[]): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    for (const cm of configMaps) parsePolicyConfigMap(cm);
    best = Math.min(best, ((performance.now() - started) * 1000) / configMaps.length);
  }
  return best;
}

export function measurePolicyParse(policies: number): PolicyParseFigures {
  const plain = Array.from({ length: policies }, (_, i) => modelPolicy(i));
  const full = plain.map((cm) => withText(cm, (text) => `# a tab\there\n${text}`));
  const invalid = plain.map((cm) => withText(cm, (text) => text.replace('weight: 90', 'weight: -90')));
  if (full.some((cm) => readPlainYaml(cm.data['policy.yaml'] ?? '') !== undefined)) throw new Error('the fast reader takes the full-reader case');
  if (invalid.some((cm) => parsePolicyConfigMap(cm).errors.length === 0)) throw new Error('an invalid policy validates');
  return { policies, fastUs: usPer(plain), fullReaderUs: usPer(full), invalidUs: usPer(invalid) };
}

if (import.meta.main) console.log(measurePolicyParse(Number(process.argv[2] ?? 10_000)));
