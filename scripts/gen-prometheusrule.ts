/**
 * Writes manifests/monitoring/prometheusrule.yaml from manifests/monitoring/prometheus-rules.yaml (the source
 * of truth): the same groups, comments included, as a Prometheus Operator PrometheusRule.
 * Run after editing the rules: `node scripts/gen-prometheusrule.ts`. test/monitoring checks both agree.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Document, parseDocument, type YAMLMap } from 'yaml';

const MONITORING = path.resolve(import.meta.dirname, '..', 'manifests', 'monitoring');

export function prometheusRuleText(rulesText: string): string {
  const rules = parseDocument(rulesText);
  if (rules.errors.length > 0) throw new Error(`prometheus-rules.yaml: ${rules.errors.map((e) => e.message).join('; ')}`);
  const groups = (rules.contents as YAMLMap).get('groups', true);
  const out = new Document({
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: { name: 'infermesh', namespace: 'infermesh-system', labels: { 'app.kubernetes.io/name': 'infermesh', 'app.kubernetes.io/part-of': 'infermesh' } },
    spec: { groups: null },
  });
  out.setIn(['spec', 'groups'], groups);
  out.commentBefore = [
    ' GENERATED from prometheus-rules.yaml by `node scripts/gen-prometheusrule.ts`: edit that file, not this one.',
    ' The same groups for the Prometheus Operator; a Prometheus whose ruleSelector does not select every',
    ' PrometheusRule needs a label it selects added here (kustomize labels: in the overlay).',
  ].join('\n');
  return out.toString({ lineWidth: 0 });
}

if (import.meta.main) {
  const text = prometheusRuleText(readFileSync(path.join(MONITORING, 'prometheus-rules.yaml'), 'utf8'));
  writeFileSync(path.join(MONITORING, 'prometheusrule.yaml'), text);
  console.log(`wrote ${path.join(MONITORING, 'prometheusrule.yaml')}`);
}
