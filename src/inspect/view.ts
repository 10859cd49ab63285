import { nearest } from '../util/suggest.ts';
import type { HostStatus } from './clusters.ts';
import type { ConfigVersions } from './config-dump.ts';
import { type ControlPlaneModel, type ControlPlaneRollout, type ControlPlaneStatus, isServed } from './control-plane.ts';
import type { SidecarAnswers } from './fetch.ts';
import { type Latency, clusterTraffic } from './stats.ts';

/**
 * What `inspect` prints, and its `-o json|yaml` output. Field names are a contract for scripts: add, never
 * rename. Counters are totals since the sidecar started; latencies are cumulative quantiles in milliseconds.
 */
export interface InspectView {
  admin: string;
  sidecar: {
    nodeId: string;
    nodeCluster: string;
    envoyVersion: string;
    /** LIVE once the first configuration is applied; PRE_INITIALIZING, INITIALIZING, DRAINING otherwise. */
    state: string;
    uptimeSeconds: number | null;
    /** Where the counters came from: json (`/stats?format=json`) or prometheus (the fallback). */
    statsFormat: 'json' | 'prometheus';
    /** Routes by scopes and loads a model's table and clusters on its first request for it: it holds only the models it called. */
    onDemand: boolean;
  };
  /** Per xDS type (cds, eds, lds, rds): the version the sidecar runs and any update it refused. */
  configVersions: ConfigVersions;
  /** With --server: infermesh's own view; null without it. */
  controlPlane: { address: string; ready: boolean; snapshotVersion: string | null } | null;
  models: ModelView[];
  /** Findings about the sidecar as a whole (refused config, not LIVE). */
  issues: Issue[];
}

export interface ModelView {
  model: string;
  /** The sidecar has at least one `infermesh|MODEL|BACKEND` cluster. */
  onSidecar: boolean;
  /** With --server: this model in the control plane's /status; null without --server or when it has none. */
  controlPlane: ModelControlPlane | null;
  backends: BackendView[];
  issues: Issue[];
}

export interface ModelControlPlane {
  /** Policy states: serving, stale, rejected, conflict. */
  states: string[];
  problems: string[];
  sources: string[];
  /** The ACK-gated rollout of its latest change: pending, live or degraded; null when /status has none. */
  rollout: string | null;
  /** This sidecar (by node id) in that rollout: still to ACK it (pending) or refused it (rejected); else null. */
  sidecar: { state: 'pending' | 'rejected'; type: string | null; version: string | null; error: string | null } | null;
}

export interface BackendView {
  backend: string;
  cluster: string;
  endpoints: { total: number; healthy: number; ejected: number; failingHealthChecks: number; degraded: number; draining: number };
  requests: number;
  responses5xx: number;
  retries: number;
  timeouts: number;
  latencyMs: Latency;
  hosts: HostView[];
}

export interface HostView {
  address: string;
  /** healthy, ejected, failing-health-check, degraded, draining, or the EDS status (UNHEALTHY, TIMEOUT...). */
  health: string;
  requests: number;
  activeRequests: number;
}

/**
 * Stable codes: missing-on-sidecar (the control plane serves it, the sidecar lacks it: not yet received or
 * refused; never on an on-demand sidecar, which holds only the models it called), unknown-to-control-plane (on the sidecar, not in /status), pending-on-sidecar and
 * rejected-by-sidecar (the control plane's rollout waits for, or got a NACK from, this node), no-healthy-endpoints,
 * endpoints-ejected, endpoints-failing-health-checks, config-rejected, not-live.
 */
export interface Issue {
  code: string;
  message: string;
}

const PREFIX = 'infermesh|';

/** `infermesh|MODEL|BACKEND` -> model and backend; the backend is the last part (model names may hold no '|'). */
export function splitClusterName(name: string): { model: string; backend: string } | undefined {
  if (!name.startsWith(PREFIX)) return undefined;
  const rest = name.slice(PREFIX.length);
  const bar = rest.lastIndexOf('|');
  if (bar <= 0 || bar === rest.length - 1) return undefined;
  return { model: rest.slice(0, bar), backend: rest.slice(bar + 1) };
}

function hostHealth(host: HostStatus): string {
  if (host.healthy) return 'healthy';
  if (host.ejected) return 'ejected';
  if (host.failingHealthCheck) return 'failing-health-check';
  if (host.draining) return 'draining';
  if (host.degraded) return 'degraded';
  return host.edsHealth === 'UNKNOWN' || host.edsHealth === 'HEALTHY' ? 'excluded' : host.edsHealth;
}

function backendIssues(model: string, backend: BackendView): Issue[] {
  const where = `${model}/${backend.backend}`;
  const { total, healthy, ejected, failingHealthChecks } = backend.endpoints;
  const issues: Issue[] = [];
  if (healthy === 0) issues.push({ code: 'no-healthy-endpoints', message: `${where}: no healthy endpoint (${total} in total)` });
  if (ejected > 0) issues.push({ code: 'endpoints-ejected', message: `${where}: ${ejected} of ${total} endpoint(s) ejected by outlier detection` });
  if (failingHealthChecks > 0) {
    issues.push({ code: 'endpoints-failing-health-checks', message: `${where}: ${failingHealthChecks} of ${total} endpoint(s) failing active health checks` });
  }
  return issues;
}

function controlPlaneIssues(model: string, onSidecar: boolean, onDemand: boolean, entries: readonly ControlPlaneModel[]): Issue[] {
  const served = entries.filter(isServed);
  if (entries.length === 0 && onSidecar) {
    return [{ code: 'unknown-to-control-plane', message: `${model}: on the sidecar but not in the control plane's status (removed there and not yet here, or another control plane)` }];
  }
  if (served.length > 0 && !onSidecar && !onDemand) {
    return [{ code: 'missing-on-sidecar', message: `${model}: served by the control plane (${served.map((e) => e.state).join(', ')}) but not on the sidecar: not yet received, or refused` }];
  }
  return [];
}

const XDS_NAMES: Readonly<Record<string, string>> = { cluster: 'CDS', endpoint: 'EDS', listener: 'LDS', route: 'RDS' };

function modelControlPlane(entries: readonly ControlPlaneModel[], rollout: ControlPlaneRollout | undefined, nodeId: string): ModelControlPlane | null {
  if (entries.length === 0 && !rollout) return null;
  const rejection = rollout?.rejected.find((r) => r.node === nodeId);
  const pending = nodeId !== '' && rollout?.pending.includes(nodeId);
  return {
    states: [...new Set(entries.map((e) => e.state))],
    problems: entries.flatMap((e) => e.problems),
    sources: entries.flatMap((e) => (e.source ? [e.source] : [])),
    rollout: rollout?.state ?? null,
    sidecar: rejection
      ? { state: 'rejected', type: XDS_NAMES[rejection.type] ?? rejection.type, version: rejection.version, error: rejection.error }
      : pending
        ? { state: 'pending', type: null, version: null, error: null }
        : null,
  };
}

function rolloutIssues(model: string, controlPlane: ModelControlPlane | null, nodeId: string, sequence: number | null): Issue[] {
  const sidecar = controlPlane?.sidecar;
  if (sidecar?.state === 'rejected') {
    return [{ code: 'rejected-by-sidecar', message: `${model}: this sidecar (${nodeId}) refused ${sidecar.type} version ${sidecar.version}: ${sidecar.error}` }];
  }
  if (sidecar?.state === 'pending') {
    return [{ code: 'pending-on-sidecar', message: `${model}: the control plane is waiting for this sidecar (${nodeId}) to ACK change ${sequence ?? '?'}` }];
  }
  return [];
}

function sidecarIssues(answers: SidecarAnswers): Issue[] {
  const issues: Issue[] = [];
  if (answers.serverInfo.state !== 'LIVE') {
    issues.push({ code: 'not-live', message: `Envoy is ${answers.serverInfo.state}, not LIVE: it has not applied its first configuration (or is draining)` });
  }
  for (const [type, version] of Object.entries(answers.config)) {
    if (version.rejected) {
      issues.push({ code: 'config-rejected', message: `${type.toUpperCase()} version ${version.rejected.version ?? '?'} refused: ${version.rejected.details}` });
    }
  }
  return issues;
}

/** Joins the sidecar's clusters, stats and config (and the control plane's status) into one view per model. */
export function buildView(admin: string, answers: SidecarAnswers, controlPlane?: { address: string; status: ControlPlaneStatus }): InspectView {
  const backendsByModel = new Map<string, BackendView[]>();
  for (const cluster of answers.clusters) {
    const names = splitClusterName(cluster.name);
    if (!names) continue;
    const count = (test: (host: HostStatus) => boolean) => cluster.hosts.filter(test).length;
    const backends = backendsByModel.get(names.model) ?? [];
    backends.push({
      backend: names.backend,
      cluster: cluster.name,
      endpoints: {
        total: cluster.hosts.length,
        healthy: count((h) => h.healthy),
        ejected: count((h) => h.ejected),
        failingHealthChecks: count((h) => h.failingHealthCheck),
        degraded: count((h) => h.degraded),
        draining: count((h) => h.draining),
      },
      ...clusterTraffic(answers.stats, cluster.statNames),
      hosts: cluster.hosts.map((host) => ({ address: host.address, health: hostHealth(host), requests: host.requests, activeRequests: host.activeRequests })),
    });
    backendsByModel.set(names.model, backends);
  }
  const entriesByModel = new Map<string, ControlPlaneModel[]>();
  for (const entry of controlPlane?.status.models ?? []) entriesByModel.set(entry.model, [...(entriesByModel.get(entry.model) ?? []), entry]);
  const rollouts = new Map((controlPlane?.status.rollout ?? []).map((rollout) => [rollout.model, rollout]));
  const { serverInfo } = answers;
  const names = [...new Set([...backendsByModel.keys(), ...entriesByModel.keys()])].sort();
  const models = names.map((model): ModelView => {
    const backends = (backendsByModel.get(model) ?? []).sort((a, b) => (a.backend < b.backend ? -1 : a.backend > b.backend ? 1 : 0));
    const entries = entriesByModel.get(model) ?? [];
    const rollout = rollouts.get(model);
    const cp = modelControlPlane(entries, rollout, serverInfo.nodeId);
    const issues = [...backends.flatMap((b) => backendIssues(model, b))];
    if (controlPlane) issues.push(...controlPlaneIssues(model, backends.length > 0, answers.onDemand ?? false, entries), ...rolloutIssues(model, cp, serverInfo.nodeId, rollout?.sequence ?? null));
    return { model, onSidecar: backends.length > 0, controlPlane: cp, backends, issues };
  });
  return {
    admin,
    sidecar: { nodeId: serverInfo.nodeId, nodeCluster: serverInfo.nodeCluster, envoyVersion: serverInfo.envoyVersion, state: serverInfo.state, uptimeSeconds: serverInfo.uptimeSeconds, statsFormat: answers.stats.format, onDemand: answers.onDemand ?? false },
    configVersions: answers.config,
    controlPlane: controlPlane ? { address: controlPlane.address, ready: controlPlane.status.ready, snapshotVersion: controlPlane.status.snapshotVersion } : null,
    models,
    issues: sidecarIssues(answers),
  };
}

/** The view limited to one model; an error naming the models the sidecar has when it has none for it. */
export function selectModel(view: InspectView, model: string): { view: InspectView } | { error: string } {
  const found = view.models.find((m) => m.model === model);
  if (found?.onSidecar) return { view: { ...view, models: [found] } };
  const present = view.models.filter((m) => m.onSidecar).map((m) => m.model);
  const has = present.length === 0 ? 'it has no infermesh clusters at all' : `it has: ${present.join(', ')}`;
  const close = present.find((name) => name.toLowerCase() === model.toLowerCase()) ?? nearest(model, present);
  const hint = close ? ` Did you mean ${close}?` : '';
  const served = found?.controlPlane && found.issues.some((issue) => issue.code === 'missing-on-sidecar');
  const refused = found?.controlPlane?.sidecar?.state === 'rejected' ? found.controlPlane.sidecar : undefined;
  const loaded = view.sidecar.onDemand && found?.controlPlane?.states.some((state) => state === 'serving' || state === 'stale');
  const why = refused
    ? ` The control plane serves it, and this sidecar refused it (${refused.type} version ${refused.version}): ${refused.error}`
    : served
      ? ` The control plane serves it (${found.controlPlane?.states.join(', ')}): this sidecar has not received it yet, or refused it.`
      : loaded
        ? ` The control plane serves it (${found?.controlPlane?.states.join(', ')}): this sidecar loads a model on its first request for it, and has not called it yet.`
        : view.sidecar.onDemand
          ? ' This sidecar loads a model on its first request for it.'
          : '';
  return { error: `the sidecar at ${view.admin} has no clusters for model "${model}"; ${has}.${hint}${why}` };
}
