import type { ReplicaAnswer } from './ask-replicas.ts';
import type { ClientConfig } from './csds-client.ts';
import { modelOnProxy, summarizeProxy, type ModelPlacement, type ModelProxyStatus, type ProxyStatus } from './summarize.ts';

/** What `status` says about one replica: whether it answered, and the node ids of the proxies on it. */
export interface ReplicaReport {
  address: string;
  pod?: string;
  reachable: boolean;
  error?: string;
  proxies: string[];
}

export type ProxyOnReplica = ProxyStatus & { replica: string };
export type ModelOnReplica = ModelProxyStatus & { replica: string };

/**
 * A model's state across every replica: live only when every proxy that uses it, on every replica, ACKed
 * it; unknown when no proxy refused it but a replica did not answer (its proxies may not have it yet).
 */
export type ModelState = ModelPlacement | 'unknown';

export interface MergedProxies {
  proxies: ProxyOnReplica[];
  replicas: ReplicaReport[];
}

export interface MergedModel {
  model: string;
  state: ModelState;
  proxies: ModelOnReplica[];
  replicas: ReplicaReport[];
}

const nodeOf = (client: ClientConfig) => client.node?.id ?? '(unknown)';

function reports(answers: readonly ReplicaAnswer[]): ReplicaReport[] {
  return answers.map((answer) => ({
    address: answer.address,
    ...(answer.pod ? { pod: answer.pod } : {}),
    reachable: answer.reachable,
    ...(answer.reachable ? {} : { error: answer.error }),
    proxies: answer.reachable ? [...new Set(answer.clients.map(nodeOf))].sort() : [],
  }));
}

/** Every (proxy, replica) pair, by node then by replica: a proxy on two replicas (mid-move) is on both. */
function onReplicas<T extends { node: string }>(answers: readonly ReplicaAnswer[], each: (client: ClientConfig) => T): (T & { replica: string })[] {
  const rows = answers.flatMap((answer, index) => (answer.reachable ? answer.clients.map((client) => ({ row: { ...each(client), replica: answer.address }, index })) : []));
  rows.sort((a, b) => (a.row.node < b.row.node ? -1 : a.row.node > b.row.node ? 1 : a.index - b.index));
  return rows.map(({ row }) => row);
}

export function mergeProxies(answers: readonly ReplicaAnswer[]): MergedProxies {
  return { proxies: onReplicas(answers, summarizeProxy), replicas: reports(answers) };
}

export function mergeModel(answers: readonly ReplicaAnswer[], model: string, grpcTarget: string): MergedModel {
  const proxies = onReplicas(answers, (client) => modelOnProxy(client, model, grpcTarget));
  const some = (state: ModelPlacement) => proxies.some((p) => p.state === state);
  const state: ModelState = some('refused') ? 'refused' : answers.some((a) => !a.reachable) ? 'unknown' : some('pending') ? 'pending' : some('live') ? 'live' : 'not-used';
  return { model, state, proxies, replicas: reports(answers) };
}

/** Node ids seen on more than one replica, with those replicas: a proxy moving, or two sharing one id. */
export function onSeveralReplicas(rows: readonly { node: string; replica: string }[]): Map<string, string[]> {
  const replicas = new Map<string, Set<string>>();
  for (const row of rows) replicas.set(row.node, (replicas.get(row.node) ?? new Set()).add(row.replica));
  return new Map([...replicas].filter(([, seen]) => seen.size > 1).map(([node, seen]) => [node, [...seen]]));
}
