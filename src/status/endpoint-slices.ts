import * as k8s from '@kubernetes/client-node';
import { loadKubeConfig } from '../kube/kube-config.ts';
import type { Replica } from './replicas.ts';

export interface ServiceReplicas {
  kubeconfig?: string;
  service: string;
  namespace: string;
  /** The EndpointSlice port to dial: the one named like the Service's xDS port. */
  portName: string;
}

/** HOST:PORT, with IPv6 addresses in brackets. */
const joinHostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/**
 * Every replica behind the Service, read from its EndpointSlices (label kubernetes.io/service-name): ready or
 * not, since a replica that is not ready may still hold proxies, and one that does not answer is reported.
 * Loaded only when discovery is asked for (the Kubernetes client costs ~75 MB of RSS).
 */
export async function replicasOfService(choice: ServiceReplicas): Promise<Replica[]> {
  const config = loadKubeConfig(choice.kubeconfig);
  const api = config.makeApiClient(k8s.DiscoveryV1Api);
  const where = `Service ${choice.namespace}/${choice.service}`;
  let list: k8s.V1EndpointSliceList;
  try {
    list = await api.listNamespacedEndpointSlice({ namespace: choice.namespace, labelSelector: `kubernetes.io/service-name=${choice.service}` });
  } catch (error) {
    const code = (error as { code?: number }).code;
    const reason = code === 403 ? 'forbidden: the account needs list on endpointslices.discovery.k8s.io there' : error instanceof Error ? error.message : String(error);
    throw new Error(`cannot list the EndpointSlices of ${where}: ${reason}`);
  }
  if (list.items.length === 0) throw new Error(`no EndpointSlices for ${where}: is infermesh deployed there? (--service, --namespace)`);
  const replicas = new Map<string, Replica>();
  for (const slice of list.items) {
    const port = slice.ports?.find((p) => p.name === choice.portName)?.port;
    if (port === undefined) {
      const names = (slice.ports ?? []).map((p) => p.name ?? '(unnamed)').join(', ') || 'none';
      throw new Error(`EndpointSlice ${choice.namespace}/${slice.metadata?.name ?? '?'} of ${where} has no port named ${choice.portName} (it has: ${names}); see --xds-port-name`);
    }
    for (const endpoint of slice.endpoints ?? []) {
      const host = endpoint.addresses[0];
      if (!host) continue;
      const address = joinHostPort(host, port);
      const pod = endpoint.targetRef?.kind === 'Pod' ? endpoint.targetRef.name : undefined;
      replicas.set(address, { address, ...(pod ? { pod } : {}) });
    }
  }
  if (replicas.size === 0) throw new Error(`${where} has no endpoints: no replica is running`);
  return [...replicas.values()].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
}
