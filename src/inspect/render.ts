import { stringify } from 'yaml';
import { formatTable } from '../util/table.ts';
import { formatDuration } from '../util/duration.ts';
import { XDS_TYPES, type TypeVersion } from './config-dump.ts';
import type { BackendView, InspectView, ModelView } from './view.ts';

export type OutputFormat = 'table' | 'json' | 'yaml';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['table', 'json', 'yaml'];

/** Milliseconds as a short latency: 0.42ms, 4.1ms, 38.2ms, 1250ms; '-' when nothing was measured. */
export function formatMs(value: number | null): string {
  if (value === null) return '-';
  if (value < 1) return `${Number(value.toFixed(2))}ms`;
  if (value < 100) return `${Number(value.toFixed(1))}ms`;
  return `${Math.round(value)}ms`;
}

function describeVersion(type: string, version: TypeVersion): string {
  const refused = version.rejected ? ` (refused ${version.rejected.version ?? '?'})` : '';
  return `${type.toUpperCase()} ${version.version ?? 'none'}${refused}`;
}

function header(view: InspectView): string[] {
  const { sidecar } = view;
  const node = sidecar.nodeId === '' ? 'node ?' : `node ${sidecar.nodeId}`;
  const uptime = sidecar.uptimeSeconds === null ? '' : `  up ${formatDuration(Math.round(sidecar.uptimeSeconds) * 1000)}`;
  const fallback = sidecar.statsFormat === 'prometheus' ? '  (stats from /stats/prometheus; latency estimated from buckets)' : '';
  const lines = [
    `Sidecar  ${node}  Envoy ${sidecar.envoyVersion}  ${sidecar.state}${uptime}  admin ${view.admin}${fallback}`,
    `Config   ${XDS_TYPES.map((type) => describeVersion(type, view.configVersions[type])).join('  ')}`,
  ];
  const cp = view.controlPlane;
  if (cp) lines.push(`Control  ${cp.address}  ${cp.ready ? 'ready' : 'NOT READY'}  snapshot ${cp.snapshotVersion ?? 'none'}`);
  return lines;
}

function backendRow(model: string, backend: BackendView, controlPlane: string | undefined): string[] {
  const e = backend.endpoints;
  const row = [
    model,
    backend.backend,
    `${e.healthy}/${e.total}`,
    String(e.ejected),
    String(e.failingHealthChecks),
    String(backend.requests),
    String(backend.responses5xx),
    String(backend.retries),
    String(backend.timeouts),
    formatMs(backend.latencyMs.p50),
    formatMs(backend.latencyMs.p99),
  ];
  return controlPlane === undefined ? row : [...row, controlPlane];
}

function modelRows(model: ModelView, withControlPlane: boolean): string[][] {
  const cp = model.controlPlane;
  const state = withControlPlane ? (cp ? [cp.states.join(','), cp.rollout].filter((part) => part !== null && part !== '').join('/') : 'unknown') : undefined;
  if (model.backends.length > 0) return model.backends.map((backend) => backendRow(model.model, backend, state));
  const missing = [model.model, ...Array<string>(10).fill('-')];
  return [state === undefined ? missing : [...missing, state]];
}

const COLUMNS = ['MODEL', 'BACKEND', 'ENDPOINTS', 'EJECTED', 'HC-FAIL', 'REQUESTS', '5XX', 'RETRIES', 'TIMEOUTS', 'P50', 'P99'];
/** Counts and latencies are right-aligned, as in `infermesh status`. */
const NUMERIC_COLUMNS = [2, 3, 4, 5, 6, 7, 8, 9, 10];

/** Endpoint detail, printed when the view holds one model (--model). */
function hostTable(model: ModelView): string {
  const rows = model.backends.flatMap((backend) =>
    backend.hosts.map((host) => [backend.backend, host.address, host.health, String(host.requests), String(host.activeRequests)]),
  );
  return rows.length === 0 ? '' : formatTable(['BACKEND', 'ENDPOINT', 'HEALTH', 'REQUESTS', 'ACTIVE'], rows, [3, 4]).trimEnd();
}

function problemLines(model: ModelView): string[] {
  const problems = model.controlPlane?.problems ?? [];
  const [first] = problems;
  if (first === undefined) return [];
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  return [`  ${model.model} (${model.controlPlane?.states.join(',')}): ${first.split('\n')[0]}${more}`];
}

/** One screen: who the sidecar is and what config it runs, a row per model and backend, then what looks wrong. */
export function renderTable(view: InspectView): string {
  const withControlPlane = view.controlPlane !== null;
  const columns = withControlPlane ? [...COLUMNS, 'CONTROL-PLANE'] : COLUMNS;
  const rows = view.models.flatMap((model) => modelRows(model, withControlPlane));
  const sections = [header(view).join('\n')];
  sections.push(view.models.length === 0 ? 'No infermesh clusters on this sidecar.' : formatTable(columns, rows, NUMERIC_COLUMNS).trimEnd());
  const [only] = view.models;
  if (view.models.length === 1 && only) sections.push(hostTable(only));
  const issues = [...view.issues, ...view.models.flatMap((model) => model.issues)];
  if (issues.length > 0) sections.push(issues.map((issue) => `! ${issue.message}`).join('\n'));
  const problems = view.models.flatMap(problemLines);
  if (problems.length > 0) sections.push(`Control plane problems:\n${problems.join('\n')}`);
  return `${sections.filter((section) => section !== '').join('\n\n')}\n`;
}

export function renderView(view: InspectView, format: OutputFormat): string {
  if (format === 'json') return `${JSON.stringify(view, null, 2)}\n`;
  if (format === 'yaml') return stringify(view);
  return renderTable(view);
}
