import { isIP } from 'node:net';
import type { EndpointSliceObject, EndpointSlicePort } from '../sources/types.ts';
import type { Endpoint } from './types.ts';

export interface ServiceRef {
  namespace: string;
  name: string;
  port: string | number;
}

export interface EndpointResolution {
  endpoints: Endpoint[];
  /** Things an operator should know (port name missing from a slice); not errors. */
  warnings: string[];
}

/** Indexes EndpointSlices by namespace/service so each backend lookup is one map access. */
export function indexSlices(slices: readonly EndpointSliceObject[]): Map<string, EndpointSliceObject[]> {
  const index = new Map<string, EndpointSliceObject[]>();
  for (const slice of slices) {
    const key = `${slice.namespace}/${slice.serviceName}`;
    const list = index.get(key) ?? [];
    list.push(slice);
    index.set(key, list);
  }
  return index;
}

/** A port name selects the slice port of that name; a number is the endpoint (target) port itself. */
function resolvePort(ports: readonly EndpointSlicePort[], wanted: string | number): number | undefined {
  if (typeof wanted === 'number') return wanted;
  return ports.find((port) => port.name === wanted)?.port;
}

/**
 * The last resolution per first slice and port: while a Service's slices are the same objects (sources keep
 * unchanged objects), the same resolution comes back, so what is built from it can be reused by identity.
 */
type Resolved = Map<string | number, { slices: readonly EndpointSliceObject[]; resolution: EndpointResolution }>;
const resolved = new WeakMap<EndpointSliceObject, Resolved>();

/**
 * The serving endpoints of one Service port, merged across its slices and de-duplicated. Ready endpoints
 * take traffic; serving-but-terminating ones drain; anything else is left out.
 */
export function resolveEndpoints(
  ref: ServiceRef,
  slicesByService: Map<string, EndpointSliceObject[]>,
): EndpointResolution {
  const slices = slicesByService.get(`${ref.namespace}/${ref.name}`) ?? [];
  const first = slices[0];
  if (!first) return resolveFresh(ref, slices);
  const byPort: Resolved = resolved.get(first) ?? new Map();
  const last = byPort.get(ref.port);
  if (last && last.slices.length === slices.length && last.slices.every((slice, i) => slice === slices[i])) return last.resolution;
  const resolution = resolveFresh(ref, slices);
  byPort.set(ref.port, { slices, resolution });
  resolved.set(first, byPort);
  return resolution;
}

function resolveFresh(ref: ServiceRef, slices: readonly EndpointSliceObject[]): EndpointResolution {
  const byAddress = new Map<string, Endpoint>();
  const warnings: string[] = [];
  for (const slice of slices) {
    const port = resolvePort(slice.ports, ref.port);
    if (port === undefined) {
      const known = slice.ports.map((p) => p.name ?? String(p.port)).join(', ') || 'none';
      warnings.push(`EndpointSlice ${slice.namespace}/${slice.name} has no port named "${ref.port}" (ports: ${known})`);
      continue;
    }
    for (const endpoint of slice.endpoints) {
      const health = endpoint.ready ? 'healthy' : endpoint.serving && endpoint.terminating ? 'draining' : undefined;
      if (health === undefined) continue;
      for (const address of endpoint.addresses) {
        if (isIP(address) === 0) {
          warnings.push(`EndpointSlice ${slice.namespace}/${slice.name} lists "${address}", which is not an IP address; skipped`);
          continue;
        }
        const key = `${address}:${port}`;
        if (byAddress.get(key)?.health === 'healthy') continue;
        byAddress.set(key, {
          address,
          port,
          health,
          ...(endpoint.zone ? { zone: endpoint.zone } : {}),
          ...(endpoint.podName ? { podName: endpoint.podName } : {}),
        });
      }
    }
  }
  return { endpoints: [...byAddress.values()], warnings };
}
