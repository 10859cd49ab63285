/**
 * What the monitoring end-to-end test evaluates: every query of a Grafana dashboard (with its template
 * variables substituted), the labels each must carry, and the recording rules of a Prometheus rules file.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  /** The expression as Grafana would send it, variables substituted. */
  expr: string;
  /** Labels every series must carry: the ones its legend names. */
  labels: string[];
}

interface Target {
  refId?: string;
  expr?: string;
  legendFormat?: string;
}

interface Panel {
  type?: string;
  title?: string;
  targets?: Target[];
  panels?: Panel[];
}

interface Dashboard {
  title: string;
  panels: Panel[];
  templating?: { list?: { name: string; type: string; definition?: string }[] };
}

export function readDashboard(file: string): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** `{{label}}` names of a legend format. */
export function legendLabels(legendFormat: string | undefined): string[] {
  return [...(legendFormat ?? '').matchAll(/\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g)].map((match) => match[1]!);
}

/**
 * Grafana's substitutions: `$var` / `${var}` from `variables`, and the interval macros. `$__rate_interval`
 * becomes the window the recording rules use (1m): Grafana's own value depends on the scrape interval and
 * the zoom, and any window of a few scrapes is what a viewer of the last minutes gets.
 */
export function substitute(expr: string, variables: Record<string, string>): string {
  const all: Record<string, string> = { __rate_interval: '1m', __interval: '1m', __range: '1m', ...variables };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    // label_replace's "$1" and any unknown name stay as they are, as Grafana leaves them.
    return name in all ? all[name]! : whole;
  });
}

/** Every target of every panel (rows' nested panels included). */
export function panelQueries(dashboard: Dashboard, variables: Record<string, string>): PanelQuery[] {
  const flat = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  return flat.flatMap((panel) =>
    (panel.targets ?? []).map((target) => {
      if (target.expr === undefined || target.expr.trim() === '') throw new Error(`${dashboard.title} / ${panel.title}: a target without a query`);
      return {
        dashboard: dashboard.title,
        panel: panel.title ?? '(untitled)',
        refId: target.refId ?? '?',
        expr: substitute(target.expr, variables),
        labels: legendLabels(target.legendFormat),
      };
    }),
  );
}

/** The label_values(metric, label) variables of a dashboard. */
export function labelValuesVariables(dashboard: Dashboard): { name: string; metric: string; label: string }[] {
  return (dashboard.templating?.list ?? [])
    .filter((variable) => variable.type === 'query')
    .map((variable) => {
      const match = /^label_values\(\s*([^,]+?)\s*,\s*(\w+)\s*\)$/.exec(variable.definition ?? '');
      if (!match) throw new Error(`${dashboard.title}: variable ${variable.name} is not label_values(metric, label): ${variable.definition}`);
      return { name: variable.name, metric: match[1]!, label: match[2]! };
    });
}

export interface RecordingRule {
  group: string;
  record: string;
  /** Labels its series must carry, from the rule's level (`model_backend_version:` → model, backend, version). */
  labels: string[];
}

export interface RuleCounts {
  recording: RecordingRule[];
  alerts: string[];
}

const LEVEL_LABELS = new Set(['model', 'backend', 'version']);

/** The recording rules (with the labels their names promise) and the alert names of a rules file. */
export function readRules(file: string): RuleCounts {
  const document = parse(readFileSync(file, 'utf8')) as { groups?: { name: string; rules?: { record?: string; alert?: string }[] }[] };
  const recording: RecordingRule[] = [];
  const alerts: string[] = [];
  for (const group of document.groups ?? []) {
    for (const rule of group.rules ?? []) {
      if (rule.alert !== undefined) alerts.push(rule.alert);
      if (rule.record === undefined) continue;
      const level = rule.record.includes(':') ? rule.record.split(':')[0]!.split('_') : [];
      recording.push({ group: group.name, record: rule.record, labels: level.every((label) => LEVEL_LABELS.has(label)) ? level : [] });
    }
  }
  return { recording, alerts };
}
