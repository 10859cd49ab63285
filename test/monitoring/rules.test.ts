/**
 * manifests/monitoring/prometheus-rules.yaml through Debian's promtool: `check rules`, and `test rules` on
 * the unit tests next to this file, which must cover every alert (firing and silent) and every recording
 * rule. Each rule's tests must be able to fail: with that one rule's expression replaced, they do.
 * Also: prometheusrule.yaml carries exactly the same groups (scripts/gen-prometheusrule.ts writes it).
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { prometheusRuleText } from '../../scripts/gen-prometheusrule.ts';
import { REPO, describeWithTool, promtoolBinary } from '../support/tools.ts';

const run = promisify(execFile);
const MONITORING = path.join(REPO, 'manifests', 'monitoring');
const RULES_FILE = path.join(MONITORING, 'prometheus-rules.yaml');
const TEST_FILES = ['alerts.rules-test.yaml', 'recording.rules-test.yaml'].map((file) => path.join(import.meta.dirname, file));

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
interface RuleGroup {
  name: string;
  rules: Rule[];
}
interface AlertTest {
  alertname: string;
  exp_alerts: unknown[];
}
interface PromqlTest {
  expr: string;
  exp_samples: unknown[];
}
interface UnitTests {
  rule_files: string[];
  tests: { alert_rule_test?: AlertTest[]; promql_expr_test?: PromqlTest[] }[];
}

const rulesText = readFileSync(RULES_FILE, 'utf8');
const groups = (parse(rulesText) as { groups: RuleGroup[] }).groups;
const rules = groups.flatMap((group) => group.rules);
const alerts = rules.flatMap((rule) => (rule.alert ? [rule.alert] : []));
const records = rules.flatMap((rule) => (rule.record ? [rule.record] : []));
const unitTests = TEST_FILES.map((file) => parse(readFileSync(file, 'utf8')) as UnitTests);
const alertTests = unitTests.flatMap((u) => u.tests.flatMap((t) => t.alert_rule_test ?? []));
const promqlTests = unitTests.flatMap((u) => u.tests.flatMap((t) => t.promql_expr_test ?? []));

/** The recording rule names of the design (issue 15), which the dashboards and the end-to-end test use. */
const DESIGN_RECORDS = [
  'model_backend_version:envoy_cluster_upstream_rq:rate1m',
  'model_backend_version:envoy_cluster_upstream_rq_errors:ratio_rate1m',
  'model_backend_version:envoy_cluster_upstream_rq_time:p50_1m',
  'model_backend_version:envoy_cluster_upstream_rq_time:p99_1m',
  'model:envoy_cluster_upstream_rq:rate1m',
  'model:envoy_cluster_upstream_rq_errors:ratio_rate1m',
  'model:envoy_cluster_upstream_rq_time:p99_1m',
];

describe('prometheus-rules.yaml (no tool needed)', () => {
  it('has the design\'s recording rules and alerts with severity, summary, description and runbook', () => {
    expect(records).toEqual(DESIGN_RECORDS);
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    for (const rule of rules.filter((r) => r.alert)) {
      const { labels, annotations } = rule as Rule & { labels?: Record<string, string>; annotations?: Record<string, string> };
      expect(['critical', 'warning'], rule.alert).toContain(labels?.['severity']);
      expect(Object.keys(annotations ?? {}).sort(), rule.alert).toEqual(['description', 'runbook', 'summary']);
      expect(annotations?.['runbook'], rule.alert).toMatch(/infermesh |kubectl /);
    }
  });

  it('is what prometheusrule.yaml carries: the same groups, and the file is the generated one', () => {
    const generated = readFileSync(path.join(MONITORING, 'prometheusrule.yaml'), 'utf8');
    expect(generated, 'run `node scripts/gen-prometheusrule.ts`').toBe(prometheusRuleText(rulesText));
    const resource = parse(generated) as { apiVersion: string; kind: string; spec: { groups: RuleGroup[] } };
    expect([resource.apiVersion, resource.kind]).toEqual(['monitoring.coreos.com/v1', 'PrometheusRule']);
    expect(resource.spec.groups).toEqual(groups);
  });

  it('has unit tests for every alert, firing and silent, and for every recording rule', () => {
    for (const u of unitTests) expect(u.rule_files).toEqual(['../../manifests/monitoring/prometheus-rules.yaml']);
    const fired = new Set(alertTests.filter((t) => t.exp_alerts.length > 0).map((t) => t.alertname));
    const silent = new Set(alertTests.filter((t) => t.exp_alerts.length === 0).map((t) => t.alertname));
    expect([...fired].sort()).toEqual([...alerts].sort());
    expect([...silent].sort()).toEqual([...alerts].sort());
    const tested = new Set(promqlTests.filter((t) => t.exp_samples.length > 0).map((t) => t.expr));
    expect([...tested].sort()).toEqual([...records].sort());
  });
});

describeWithTool('promtool', promtoolBinary(), (promtool) => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'infermesh-rules-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  /** Copies of the unit tests that load `rulesPath` instead, in `dir`. */
  function testsAgainst(rulesPath: string, dir: string): string[] {
    mkdirSync(dir, { recursive: true });
    return TEST_FILES.map((file) => {
      const copy = path.join(dir, path.basename(file));
      writeFileSync(copy, readFileSync(file, 'utf8').replace('../../manifests/monitoring/prometheus-rules.yaml', rulesPath));
      return copy;
    });
  }

  it('check rules: the file is valid', async () => {
    const { stdout } = await run(promtool, ['check', 'rules', RULES_FILE], { timeout: 30_000 });
    expect(stdout).toContain(`SUCCESS: ${rules.length} rules found`);
  });

  it('test rules: every unit test passes', async () => {
    const { stdout } = await run(promtool, ['test', 'rules', ...TEST_FILES], { cwd: import.meta.dirname, timeout: 60_000 });
    expect(stdout.match(/SUCCESS/g)).toHaveLength(TEST_FILES.length);
  });

  // For each rule, its unit tests against the rules with only that rule's expression replaced by a
  // constant must fail: a rule whose tests still pass is not really tested (a removed alert is caught by
  // the coverage test above). Alerts are tested in alerts.rules-test.yaml, recording rules in
  // recording.rules-test.yaml; one promtool run per rule.
  it('test rules: fails when any one rule\'s expression is broken', { timeout: 180_000 }, async () => {
    const survivors: string[] = [];
    for (const [index, rule] of rules.entries()) {
      const broken = structuredClone(groups);
      let seen = 0;
      for (const group of broken) for (const r of group.rules) if (seen++ === index) r.expr = 'vector(1)';
      const dir = path.join(scratch, `mutant-${index}`);
      mkdirSync(dir, { recursive: true });
      const rulesPath = path.join(dir, 'rules.yaml');
      writeFileSync(rulesPath, JSON.stringify({ groups: broken }));
      const files = testsAgainst(rulesPath, dir).filter((file) => path.basename(file) === (rule.alert ? 'alerts.rules-test.yaml' : 'recording.rules-test.yaml'));
      const passed = await run(promtool, ['test', 'rules', ...files], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }).then(
        () => true,
        (error: { code?: unknown }) => {
          if (error.code !== 1) throw error as Error;
          return false;
        },
      );
      if (passed) survivors.push(rule.alert ?? rule.record ?? '?');
    }
    expect(survivors).toEqual([]);
  });
});
