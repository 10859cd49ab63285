import type { Endpoint } from '../model/types.ts';
import type { ClusterLoadAssignment, LbEndpoint } from './messages.ts';
import { uint32Value } from './wrappers.ts';

function groupByZone(endpoints: readonly Endpoint[]): Map<string, Endpoint[]> {
  const zones = new Map<string, Endpoint[]>();
  for (const endpoint of endpoints) {
    const zone = endpoint.zone ?? '';
    const list = zones.get(zone) ?? [];
    list.push(endpoint);
    zones.set(zone, list);
  }
  return new Map([...zones.entries()].sort(([a], [b]) => byCodeUnits(a, b)));
}

/** Not localeCompare: every replica must order alike whatever its locale, so their versions agree. */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const HEALTH_STATUS = { healthy: 'HEALTHY', draining: 'DRAINING', unhealthy: 'UNHEALTHY' } as const;

function lbEndpoint(endpoint: Endpoint): LbEndpoint {
  return {
    endpoint: { address: { socket_address: { address: endpoint.address, port_value: endpoint.port } } },
    health_status: HEALTH_STATUS[endpoint.health],
  };
}

/**
 * One locality per zone. gRPC clients ignore a locality without load_balancing_weight, so every locality
 * gets one: its count of serving endpoints, which keeps per-endpoint shares equal across zones.
 */
export function clusterLoadAssignment(clusterName: string, endpoints: readonly Endpoint[]): ClusterLoadAssignment {
  const sorted = [...endpoints].sort((a, b) => byCodeUnits(a.address, b.address) || a.port - b.port);
  const localities = [...groupByZone(sorted).entries()].map(([zone, members]) => ({
    locality: zone === '' ? {} : { zone },
    lb_endpoints: members.map(lbEndpoint),
    load_balancing_weight: uint32Value(Math.max(1, members.filter((member) => member.health === 'healthy').length)),
  }));
  return { cluster_name: clusterName, endpoints: localities };
}
