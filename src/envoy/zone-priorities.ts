import type { Endpoint } from '../model/types.ts';
import { clusterLoadAssignment } from './endpoints.ts';
import type { ClusterLoadAssignment } from './messages.ts';

/**
 * The caller zones that get an assignment of their own for these endpoints: every zone holding one of them,
 * when they span more than one locality (with a single locality, priorities would change nothing).
 * Endpoints without a zone form a locality of their own but never a caller zone. Sorted, so every
 * replica builds the same variants in the same order.
 */
export function failoverZones(endpoints: readonly Endpoint[]): string[] {
  const localities = new Set(endpoints.map((endpoint) => endpoint.zone ?? ''));
  if (localities.size < 2) return [];
  return [...localities].filter((zone) => zone !== '').sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * What a caller in `zone` receives for a cluster with zone failover: the flat assignment (endpoints.ts) with
 * every locality outside `zone` moved to priority 1. Envoy and gRPC (gRFC A27 priority LB) both send to
 * priority 0 while it is healthy and move to priority 1 as it fails; locality weights are kept (gRPC drops a
 * locality without one). The caller's zone must hold an endpoint, or there would be no priority 0 (priorities
 * must be contiguous from 0): failoverZones lists exactly those zones.
 */
export function zoneFailoverAssignment(clusterName: string, endpoints: readonly Endpoint[], zone: string): ClusterLoadAssignment {
  const flat = clusterLoadAssignment(clusterName, endpoints);
  return {
    ...flat,
    endpoints: (flat.endpoints ?? []).map((locality) => (locality.locality?.zone === zone ? locality : { ...locality, priority: 1 })),
  };
}
