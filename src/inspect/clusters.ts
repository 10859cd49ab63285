import { count, field, isRecord, list, text } from './json.ts';

/** One upstream host of a cluster as `/clusters?format=json` (envoy.admin.v3.HostStatus) reports it. */
export interface HostStatus {
  address: string;
  /** eds_health_status as pushed by the control plane: HEALTHY, UNHEALTHY, DRAINING, TIMEOUT, DEGRADED, UNKNOWN. */
  edsHealth: string;
  /** Gets traffic: no failure flag set and EDS says HEALTHY (or UNKNOWN, which Envoy treats as healthy). */
  healthy: boolean;
  /** Ejected by outlier detection (failed_outlier_check). */
  ejected: boolean;
  /** failed_active_health_check, or active_hc_timeout. */
  failingHealthCheck: boolean;
  /** failed_active_degraded_check or EDS DEGRADED: used only when too few hosts are healthy. */
  degraded: boolean;
  /** pending_dynamic_removal or EDS DRAINING: leaving the cluster. */
  draining: boolean;
  requests: number;
  activeRequests: number;
  errors: number;
}

export interface ClusterStatus {
  name: string;
  /** Names its stats may use, best first: observability_name (alt_stat_name or name), then with ':' as '_'. */
  statNames: string[];
  hosts: HostStatus[];
}

const UNHEALTHY_EDS = new Set(['UNHEALTHY', 'DRAINING', 'TIMEOUT']);

function describeAddress(address: unknown): string {
  const socket = field(address, 'socket_address');
  if (socket !== undefined) {
    const ip = text(field(socket, 'address')) ?? '?';
    const port = count(field(socket, 'port_value'));
    return `${ip.includes(':') ? `[${ip}]` : ip}:${port ?? '?'}`;
  }
  const pipe = text(field(field(address, 'pipe'), 'path'));
  return pipe === undefined ? '?' : `unix:${pipe}`;
}

function hostStat(stats: unknown, name: string): number {
  for (const stat of list(stats)) {
    // Zero values are left out of proto3 JSON: {"name": "rq_error"} means 0.
    if (field(stat, 'name') === name) return count(field(stat, 'value')) ?? 0;
  }
  return 0;
}

function parseHost(host: unknown): HostStatus {
  const health = field(host, 'health_status');
  const flag = (name: string) => field(health, name) === true;
  const edsHealth = text(field(health, 'eds_health_status')) ?? 'UNKNOWN';
  const ejected = flag('failed_outlier_check');
  const failingHealthCheck = flag('failed_active_health_check') || flag('active_hc_timeout');
  const degraded = flag('failed_active_degraded_check') || edsHealth === 'DEGRADED';
  const draining = flag('pending_dynamic_removal') || edsHealth === 'DRAINING';
  const unhealthy = ejected || failingHealthCheck || flag('excluded_via_immediate_hc_fail') || flag('pending_active_hc') || UNHEALTHY_EDS.has(edsHealth);
  return {
    address: describeAddress(field(host, 'address')),
    edsHealth,
    healthy: !unhealthy && !degraded && !draining,
    ejected,
    failingHealthCheck,
    degraded,
    draining,
    requests: hostStat(field(host, 'stats'), 'rq_total'),
    activeRequests: hostStat(field(host, 'stats'), 'rq_active'),
    errors: hostStat(field(host, 'stats'), 'rq_error'),
  };
}

/** Envoy replaces ':' in cluster names with '_' when it names their stats. */
export function statNameOf(cluster: string): string {
  return cluster.replaceAll(':', '_');
}

/** Parses `/clusters?format=json` (envoy.admin.v3.Clusters); undefined when it has no cluster_statuses list. */
export function parseClusters(body: unknown): ClusterStatus[] | undefined {
  const statuses = field(body, 'cluster_statuses');
  if (!isRecord(body) || (statuses !== undefined && !Array.isArray(statuses))) return undefined;
  return list(statuses).flatMap((status) => {
    const name = text(field(status, 'name'));
    if (name === undefined) return [];
    const observed = text(field(status, 'observability_name')) ?? name;
    const statNames = [...new Set([observed, statNameOf(observed), statNameOf(name)])];
    return [{ name, statNames, hosts: list(field(status, 'host_statuses')).map(parseHost) }];
  });
}
