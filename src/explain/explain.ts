import type { ReconcileResult } from '../controller/reconcile.ts';
import type { MeshSettings, ModelPolicy } from '../model/types.ts';
import type { EndpointState, ModelEndpoints } from '../status/model-endpoints.ts';
import type { Route } from '../envoy/messages.ts';
import { closestMatch } from '../util/suggest.ts';
import { firstMatchingRoute } from './route-match.ts';

export interface ExplainedBackend {
  cluster: string;
  weight?: number;
  share?: string;
  endpoints: ExplainedEndpoint[];
}

export interface ExplainedEndpoint {
  address: string;
  zone?: string;
  health: string;
  /** From a running control plane's /status (explain --admin): what the model server says. */
  pod?: string;
  state?: EndpointState | 'unknown';
  reason?: string;
  fallback?: string;
}

export interface ExplainedSetting {
  field: string;
  value: string;
  from: string;
}

export interface Explanation {
  model: string;
  requested: { header: Record<string, string> };
  state: string;
  problems: string[];
  source?: string;
  route: { name: string; outcome: string };
  backends: ExplainedBackend[];
  settings: ExplainedSetting[];
  /** Where the endpoints' per-model readiness comes from, or why it is not shown. */
  readiness: string;
}


function ms(value: number | undefined): string {
  if (value === undefined) return '-';
  return value % 60_000 === 0 ? `${value / 60_000}m` : value % 1000 === 0 ? `${value / 1000}s` : `${value}ms`;
}

/** Every effective value a policy ended up with, flattened to YAML field paths, with its provenance. */
function settingsOf(policy: ModelPolicy): ExplainedSetting[] {
  const { retries, outlierDetection: od, circuitBreaker: cb } = policy;
  const values: [string, string][] = [
    ['server', policy.server],
    ['protocol', policy.protocol],
    ['timeout', ms(policy.timeoutMs)],
    ['retries.attempts', String(retries.attempts)],
    ['retries.perTryTimeout', ms(retries.perTryTimeoutMs)],
    ['retries.retryOn', retries.retryOn.join(', ')],
    ['retries.backoff.base', ms(retries.backoff?.baseMs)],
    ['retries.backoff.max', ms(retries.backoff?.maxMs)],
    ['outlierDetection.consecutiveErrors', od?.consecutiveErrors === undefined ? 'off' : String(od.consecutiveErrors)],
    ['outlierDetection.interval', ms(od?.intervalMs)],
    ['outlierDetection.baseEjectionTime', ms(od?.baseEjectionTimeMs)],
    ['outlierDetection.maxEjectionPercent', od ? `${od.maxEjectionPercent}%` : 'off'],
    ['outlierDetection.failurePercentage', od?.failurePercentage ? `threshold ${od.failurePercentage.threshold}%, ${od.failurePercentage.minimumHosts} hosts, ${od.failurePercentage.requestVolume} requests` : 'off'],
    ['outlierDetection.successRate', od?.successRate ? `stdev ${od.successRate.stdevFactor / 1000}, ${od.successRate.minimumHosts} hosts, ${od.successRate.requestVolume} requests` : 'off'],
    ['circuitBreaker.maxConnections', String(cb?.maxConnections ?? 'Envoy default')],
    ['circuitBreaker.maxPendingRequests', String(cb?.maxPendingRequests ?? 'Envoy default')],
    ['circuitBreaker.maxRequests', String(cb?.maxRequests ?? 'Envoy default')],
    ['circuitBreaker.maxRetries', String(cb?.maxRetries ?? 'Envoy default')],
    ['probe.enabled', String(policy.probe.enabled)],
    ['probe.port', String(policy.probe.port)],
    ['mirror', policy.mirror ? `${policy.mirror.percent}% of unpinned calls copied to backend ${policy.mirror.backend}, answers discarded (Envoy only)` : 'off'],
    ['rateLimit', policy.rateLimit ? `${policy.rateLimit.requestsPerSecond}/s per sidecar, burst ${policy.rateLimit.burst} (Envoy only)` : 'off'],
    ['modelFromBody', policy.modelFromBody ? 'on: a JSON request without the model header routes by its body\'s top-level "model" (Envoy only)' : 'off'],
    ['affinity.header', policy.affinity ? `${policy.affinity.header} (ring hash)` : 'off'],
    ['coldStart.holdFor', policy.coldStart ? `${ms(policy.coldStart.holdForMs)} while no pod is ready (Envoy only)` : 'off'],
    ['zoneFailover.enabled', policy.zoneFailover ? "true (caller's zone first, other zones at priority 1)" : 'off'],
  ];
  const provenance = policy.provenance ?? {};
  return values.map(([field, value]) => {
    // A section turned off (`coldStart: null`) has provenance under its own name, not its fields'.
    const section = field.includes('.') ? provenance[field.slice(0, field.lastIndexOf('.'))] : undefined;
    const from = provenance[field] ?? Object.entries(provenance).find(([key]) => key.startsWith(`${field}.`))?.[1] ?? section ?? (value === 'off' || value === '-' ? 'not set' : 'builtin');
    return { field, value, from: from.startsWith('default:') ? from.slice('default:'.length) : from };
  });
}

function describeOutcome(route: Route | undefined, clusterEndpoints: Map<string, ExplainedBackend['endpoints']>): { outcome: string; backends: ExplainedBackend[] } {
  if (!route) return { outcome: 'no route matches', backends: [] };
  if (route.typed_per_filter_config) return { outcome: 'rejected: NOT_FOUND (HTTP 404) — no such version of this model', backends: [] };
  const action = route.route ?? {};
  if (action.cluster) return { outcome: `all traffic to ${action.cluster}`, backends: [{ cluster: action.cluster, endpoints: clusterEndpoints.get(action.cluster) ?? [] }] };
  const split = action.weighted_clusters;
  const total = split?.total_weight?.value ?? 1;
  const backends = (split?.clusters ?? []).map((c) => {
    const cluster = c.name ?? '';
    const weight = c.weight?.value ?? 0;
    return { cluster, weight, share: `${((100 * weight) / total).toFixed(1)}%`, endpoints: clusterEndpoints.get(cluster) ?? [] };
  });
  return { outcome: `weighted split across ${backends.length} backends`, backends };
}

const EDS_HEALTH = { healthy: 'HEALTHY', unhealthy: 'UNHEALTHY', draining: 'DRAINING' } as const;

/**
 * Endpoints with a running control plane's view: its health (which includes what the model servers say)
 * and each endpoint's readiness state; an endpoint it does not know (yet) is `unknown`.
 */
function withLive(backends: ExplainedBackend[], live: ModelEndpoints): ExplainedBackend[] {
  const byCluster = new Map(live.backends.map((b) => [b.cluster, new Map(b.endpoints.map((e) => [e.address, e]))]));
  return backends.map((backend) => ({
    ...backend,
    endpoints: backend.endpoints.map((endpoint): ExplainedEndpoint => {
      const known = byCluster.get(backend.cluster)?.get(endpoint.address);
      if (!known) return { ...endpoint, state: 'unknown' };
      return {
        ...endpoint,
        health: EDS_HEALTH[known.health],
        ...(known.pod ? { pod: known.pod } : {}),
        state: known.state,
        ...(known.reason ? { reason: known.reason } : {}),
        ...(known.fallback ? { fallback: known.fallback } : {}),
      };
    }),
  }));
}

function readinessNote(policy: ModelPolicy, live: { from: string; view: ModelEndpoints | undefined } | undefined): string {
  if (!policy.probe.enabled) return 'probing is off for this model: its endpoints route by pod readiness';
  if (!live) return `probing is on (port ${policy.probe.port}): only a running control plane knows which endpoints have the model loaded; give --server HOST:PORT to ask one`;
  if (!live.view) return `the control plane at ${live.from} does not serve this model`;
  return `from the control plane at ${live.from}`;
}

/**
 * Explains how a request for a model (and version) would be routed, from one reconcile of the sources;
 * with `live` (a running control plane's /status), each endpoint's readiness for the model too.
 */
export function explainModel(result: ReconcileResult, settings: MeshSettings, name: string, version: string | undefined, live?: { from: string; models: readonly ModelEndpoints[] }): Explanation {
  const policy = result.served.find((p) => p.model === name || p.aliases.includes(name));
  const status = result.statuses.find((s) => s.model === (policy?.model ?? name));
  if (!policy) {
    const known = result.served.flatMap((p) => [p.model, ...p.aliases]);
    const nearest = closestMatch(name, known.map((k) => [k] as const));
    const why = status ? `; its policy is ${status.state}: ${status.problems.join('; ')}` : '';
    throw new Error(`no model "${name}" is served${why}${nearest ? `; did you mean "${nearest}"?` : ''} (served: ${known.join(', ') || 'none'})`);
  }
  const encoded = result.encoded.find((m) => m.model === policy.model);
  const headers: Record<string, string> = { [settings.modelHeader]: name, ...(version !== undefined ? { [settings.versionHeader]: version } : {}) };
  const route = firstMatchingRoute(encoded?.routes.headerRoutes ?? [], headers);
  const endpoints = new Map(
    (encoded?.endpoints ?? []).map((resource) => {
      const json = resource.json as { cluster_name: string; endpoints?: { locality?: { zone?: string }; lb_endpoints?: { endpoint: { address: { socket_address: { address: string; port_value: number } } }; health_status?: string }[] }[] };
      const list = (json.endpoints ?? []).flatMap((locality) =>
        (locality.lb_endpoints ?? []).map((lb) => ({
          address: `${lb.endpoint.address.socket_address.address}:${lb.endpoint.address.socket_address.port_value}`,
          ...(locality.locality?.zone ? { zone: locality.locality.zone } : {}),
          health: lb.health_status ?? 'UNKNOWN',
        })),
      );
      return [json.cluster_name, list];
    }),
  );
  const { outcome, backends: routed } = describeOutcome(route, endpoints);
  const liveView = live ? { from: live.from, view: live.models.find((m) => m.model === policy.model) } : undefined;
  const backends = liveView?.view ? withLive(routed, liveView.view) : routed;
  const source = `${policy.source.namespace}/${policy.source.configMap} key "${policy.source.key}" [doc ${policy.source.index}]`;
  return {
    model: policy.model,
    requested: { header: headers },
    state: status?.state ?? 'serving',
    problems: status?.problems ?? [],
    source,
    route: { name: String(route?.['name'] ?? '-'), outcome },
    backends,
    settings: settingsOf(policy),
    readiness: readinessNote(policy, liveView),
  };
}
