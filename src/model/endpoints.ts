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
 * The serving endpoints of one Service port, merged across its slices and de-duplicated. Ready endpoints
 * take traffic; serving-but-terminating ones drain; anything else is left out.
 */
export function resolveEndpoints(
  ref: ServiceRef,
  slicesByService: Map<string, EndpointSliceObject[]>,
): EndpointResolution {
  const slices = slicesByService.get(`${ref.namespace}/${ref.name}`) ?? [];
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
