import type { ServiceReplicas } from './endpoint-slices.ts';

/** One control-plane replica to ask: its xDS address, and its pod when found through the Service. */
export interface Replica {
  address: string;
  pod?: string;
}

export type ReplicaSource = { kind: 'servers'; addresses: readonly string[] } | ({ kind: 'service' } & ServiceReplicas);

/** --server values, each one address or a comma-separated list; duplicates kept once, order kept. */
export function serverList(values: readonly string[]): string[] {
  const addresses = values.flatMap((value) => value.split(',')).map((address) => address.trim()).filter((address) => address !== '');
  for (const address of addresses) {
    if (!/^(\[[^\]]+\]|[^:]+):\d+$/.test(address)) throw new Error(`--server ${address}: expected HOST:PORT (the xDS port), e.g. localhost:18000`);
  }
  return [...new Set(addresses)];
}

/**
 * The replicas to ask. The Kubernetes client is imported only for discovery through the Service: `status
 * --server` never loads it.
 */
export async function findReplicas(source: ReplicaSource): Promise<Replica[]> {
  if (source.kind === 'servers') return source.addresses.map((address) => ({ address }));
  const { replicasOfService } = await import('./endpoint-slices.ts');
  return replicasOfService(source);
}
