import type { Endpoint, Model, ModelReadinessState } from '../model/types.ts';

/**
 * What one endpoint is for one model, as /status, explain and the infermesh_model_endpoints gauge show it:
 * the model server's own answer (ready, loading, not-loaded, probe-failing), unprobed (probing is off for
 * the model, or the pod has not answered yet: it routes by pod readiness), or draining (terminating pod).
 */
export type EndpointState = ModelReadinessState | 'unprobed' | 'draining';
export const ENDPOINT_STATES: readonly EndpointState[] = ['ready', 'loading', 'not-loaded', 'probe-failing', 'unprobed', 'draining'];

export const FALLBACK_REASON = 'probing failed for every endpoint; routing by pod readiness';

export interface EndpointView {
  address: string;
  pod?: string;
  zone?: string;
  /** What the proxies are told: healthy (gets traffic), unhealthy (model not ready there), draining. */
  health: Endpoint['health'];
  state: EndpointState;
  /** The model server's own reason, or the probe error. */
  reason?: string;
  /** The backend's probing failed wholesale: this endpoint routes by pod readiness. */
  fallback?: string;
}

export interface BackendView {
  name: string;
  cluster: string;
  service: string;
  endpoints: EndpointView[];
}

export interface ModelEndpoints {
  model: string;
  probe: { enabled: boolean; port: string | number };
  /** Endpoints that get traffic (health healthy), over every backend. */
  serving: number;
  counts: Record<EndpointState, number>;
  backends: BackendView[];
}

export function endpointState(endpoint: Endpoint): EndpointState {
  if (endpoint.health === 'draining') return 'draining';
  return endpoint.readiness?.state ?? 'unprobed';
}

export function zeroCounts(): Record<EndpointState, number> {
  return { ready: 0, loading: 0, 'not-loaded': 0, 'probe-failing': 0, unprobed: 0, draining: 0 };
}

function endpointView(endpoint: Endpoint): EndpointView {
  const { readiness } = endpoint;
  return {
    address: `${endpoint.address}:${endpoint.port}`,
    ...(endpoint.podName ? { pod: endpoint.podName } : {}),
    ...(endpoint.zone ? { zone: endpoint.zone } : {}),
    health: endpoint.health,
    state: endpointState(endpoint),
    ...(readiness?.reason ? { reason: readiness.reason } : {}),
    ...(readiness?.fallback ? { fallback: FALLBACK_REASON } : {}),
  };
}

/**
 * Views by endpoint list: the build hands back the same list while nothing about it changes (readiness.ts),
 * so a reconcile of 10,000 unchanged models does not rebuild 10,000 views.
 */
const viewsOf = new WeakMap<readonly Endpoint[], readonly EndpointView[]>();

function endpointViews(endpoints: readonly Endpoint[]): readonly EndpointView[] {
  let views = viewsOf.get(endpoints);
  if (!views) {
    views = endpoints.map(endpointView);
    viewsOf.set(endpoints, views);
  }
  return views;
}

/** Per model, per backend, per endpoint: where traffic can go and what each model server says. */
export function modelEndpoints(model: Model): ModelEndpoints {
  const counts = zeroCounts();
  let serving = 0;
  const backends = model.backends.map((backend): BackendView => {
    const endpoints = endpointViews(backend.endpoints);
    for (const endpoint of endpoints) {
      counts[endpoint.state] += 1;
      if (endpoint.health === 'healthy') serving += 1;
    }
    const { service } = backend;
    return { name: backend.name, cluster: backend.clusterName, service: `${service.namespace}/${service.name}:${service.port}`, endpoints: [...endpoints] };
  });
  return { model: model.policy.model, probe: { ...model.policy.probe }, serving, counts, backends };
}

export function allModelEndpoints(models: readonly Model[]): ModelEndpoints[] {
  return models.map(modelEndpoints).sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
}

const LABELS: Record<EndpointState, string> = {
  ready: 'ready',
  loading: 'loading',
  'not-loaded': 'not loaded',
  'probe-failing': 'probe failing',
  unprobed: 'unprobed',
  draining: 'draining',
};

/** "2 not loaded, 1 probe failing": a state count for people. */
export function describeCounts(counts: Record<EndpointState, number>): string {
  return ENDPOINT_STATES.filter((state) => counts[state] > 0).map((state) => `${counts[state]} ${LABELS[state]}`).join(', ');
}

export function stateLabel(state: EndpointState): string {
  return LABELS[state];
}

/**
 * Why a model gets no traffic, backend by backend: "backend stable (models/resnet50-triton:grpc): no pods;
 * backend canary (...): 2 not loaded (unknown model), 1 probe failing (timeout)". One reason per state (the first).
 */
export function whyNoneServing(view: ModelEndpoints): string {
  return view.backends
    .map((backend) => {
      if (backend.endpoints.length === 0) return `backend ${backend.name} (${backend.service}): no pods`;
      const byState = new Map<EndpointState, { count: number; reason?: string }>();
      for (const endpoint of backend.endpoints) {
        const entry = byState.get(endpoint.state) ?? { count: 0 };
        entry.count += 1;
        entry.reason ??= endpoint.reason;
        byState.set(endpoint.state, entry);
      }
      const parts = ENDPOINT_STATES.filter((state) => byState.has(state)).map((state) => {
        const entry = byState.get(state) ?? { count: 0 };
        return `${entry.count} ${LABELS[state]}${entry.reason ? ` (${entry.reason})` : ''}`;
      });
      return `backend ${backend.name} (${backend.service}): ${parts.join(', ')}`;
    })
    .join('; ');
}
