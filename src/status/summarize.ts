import { modelTableName } from '../envoy/names.ts';
import type { ClientConfig, GenericXdsConfig } from './csds-client.ts';

export type SyncStatus = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT_SENT';
const TYPES = { cluster: 'CDS', endpoint: 'EDS', listener: 'LDS', route: 'RDS', scopedRoute: 'SRDS' } as const;
type TypeKey = keyof typeof TYPES;

export interface ProxyTypeStatus {
  version: string;
  status: SyncStatus;
  resources: number;
}

export interface ProxyStatus {
  node: string;
  pod?: string;
  namespace?: string;
  agent?: string;
  /** node.locality.zone: with zoneFailover, the zone whose endpoints this proxy uses first. Absent: no zone, flat. */
  zone?: string;
  status: SyncStatus;
  types: Partial<Record<TypeKey, ProxyTypeStatus>>;
  lastError?: string;
}

export type ModelPlacement = 'live' | 'pending' | 'refused' | 'not-used';

export interface ModelProxyStatus {
  node: string;
  pod?: string;
  state: ModelPlacement;
  error?: string;
}

function typeKey(typeUrl: string): TypeKey | undefined {
  const name = typeUrl.slice(typeUrl.lastIndexOf('.') + 1);
  return ({ Cluster: 'cluster', ClusterLoadAssignment: 'endpoint', Listener: 'listener', RouteConfiguration: 'route', ScopedRouteConfiguration: 'scopedRoute' } as const)[name as 'Cluster'];
}

function statusOf(config: GenericXdsConfig): SyncStatus {
  if (config.config_status === 'SYNCED') return 'SYNCED';
  if (config.config_status === 'ERROR' || config.client_status === 'NACKED') return 'NACKED';
  if (config.config_status === 'NOT_SENT') return 'NOT_SENT';
  return 'STALE';
}

const SEVERITY: SyncStatus[] = ['SYNCED', 'NOT_SENT', 'STALE', 'NACKED'];
const worst = (statuses: SyncStatus[]): SyncStatus => statuses.reduce((a, b) => (SEVERITY.indexOf(b) > SEVERITY.indexOf(a) ? b : a), 'SYNCED');

/** Same rule as the server: metadata POD_NAME/POD_NAMESPACE, or an id POD.NAMESPACE with cluster NAMESPACE. */
function podOf(node: ClientConfig['node']): { pod?: string; namespace?: string } {
  const id = node?.id ?? '';
  const cluster = node?.cluster ?? '';
  if (cluster && id.endsWith(`.${cluster}`)) return { pod: id.slice(0, -cluster.length - 1), namespace: cluster };
  return {};
}

export function summarizeProxy(client: ClientConfig): ProxyStatus {
  const configs = client.generic_xds_configs ?? [];
  const types: ProxyStatus['types'] = {};
  for (const key of Object.keys(TYPES) as TypeKey[]) {
    const ofType = configs.filter((c) => typeKey(c.type_url) === key);
    if (ofType.length === 0) continue;
    const versions = ofType.filter((c) => c.config_status !== 'NOT_SENT').map((c) => c.version_info ?? '');
    types[key] = { version: versions[0] ?? '', status: worst(ofType.map(statusOf)), resources: ofType.length };
  }
  const failed = configs.find((c) => c.error_state?.details);
  const node = client.node;
  const agent = node?.user_agent_name ? `${node.user_agent_name}${node.user_agent_version ? `/${node.user_agent_version}` : ''}` : undefined;
  return {
    node: node?.id ?? '(unknown)',
    ...podOf(node),
    ...(agent ? { agent } : {}),
    ...(node?.locality?.zone ? { zone: node.locality.zone } : {}),
    status: worst(Object.values(types).map((t) => t.status).filter((s) => s !== 'NOT_SENT')),
    types,
    ...(failed?.error_state?.details ? { lastError: failed.error_state.details } : {}),
  };
}

/**
 * Where one model's resources stand on one proxy: its clusters and endpoints, and the route tables that hold
 * it: the whole-mesh one (`<grpc target>`, proxyless clients on xds:///infermesh) and its own
 * (`<grpc target>/<model>`, which on-demand sidecars load on their first request for it and proxyless
 * clients on xds:///infermesh/<model> dial). A sidecar that routes by scopes (it holds SRDS scopes) uses the
 * model once it holds its table or one of its clusters, and fetches the clusters it has not used yet on
 * demand; then the model's scope counts too. Other proxies that hold a table but not the clusters yet are
 * catching up.
 */
export function modelOnProxy(client: ClientConfig, model: string, grpcTarget: string): ModelProxyStatus {
  const prefix = `infermesh|${model}|`;
  const ownTable = modelTableName(grpcTarget, model);
  const configs = client.generic_xds_configs ?? [];
  const onDemand = configs.some((c) => typeKey(c.type_url) === 'scopedRoute');
  const clusters = configs.filter((c) => c.name.startsWith(prefix));
  const tables = configs.filter((c) => typeKey(c.type_url) === 'route' && (c.name === ownTable || c.name === grpcTarget));
  const summary = summarizeProxy(client);
  const base = { node: summary.node, ...(summary.pod ? { pod: summary.pod } : {}) };
  const placement = (relevant: GenericXdsConfig[]): ModelProxyStatus => {
    const status = worst(relevant.map(statusOf));
    const error = relevant.find((c) => c.error_state?.details)?.error_state?.details;
    return { ...base, state: status === 'SYNCED' ? 'live' : status === 'NACKED' ? 'refused' : 'pending', ...(error ? { error } : {}) };
  };
  if (onDemand) {
    if (clusters.length === 0 && tables.length === 0) return { ...base, state: 'not-used' };
    const scope = configs.filter((c) => typeKey(c.type_url) === 'scopedRoute' && c.name === ownTable);
    return placement([...tables, ...clusters, ...scope]);
  }
  if (clusters.length === 0) {
    const routes = tables[0];
    // A proxy that has the model's routes but not its clusters yet is still catching up.
    if (!routes) return { ...base, state: 'not-used' };
    return { ...base, state: statusOf(routes) === 'NACKED' ? 'refused' : 'pending', ...(routes.error_state?.details ? { error: routes.error_state.details } : {}) };
  }
  return placement([...tables, ...clusters]);
}

export const TYPE_LABELS = TYPES;
