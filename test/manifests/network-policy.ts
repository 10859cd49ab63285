/**
 * Kubernetes NetworkPolicy ingress semantics (networking.k8s.io/v1), enough to ask of the shipped policies
 * "may this pod open a TCP connection to that pod on this port?": a pod no policy selects accepts
 * everything; a selected pod accepts what at least one rule of one selecting policy allows. Label
 * selectors are matched by the fake API server's selector implementation (k8s.io/apimachinery/pkg/labels).
 */
import type { V1LabelSelector, V1NetworkPolicyPeer, V1NetworkPolicyPort } from '@kubernetes/client-node';
import { labelMatcher } from '../support/fake-kube/selectors.ts';

/**
 * A NetworkPolicy as written in YAML. (The client library's V1NetworkPolicyIngressRule calls `from`
 * `_from`, so its type does not describe a parsed manifest.)
 */
export interface NetworkPolicy {
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: {
    podSelector?: V1LabelSelector;
    policyTypes?: string[];
    ingress?: { from?: V1NetworkPolicyPeer[]; ports?: V1NetworkPolicyPort[] }[];
  };
}

export interface Namespace {
  name: string;
  /** As written in the Namespace object; the API server's kubernetes.io/metadata.name is added here. */
  labels?: Record<string, string>;
}

export interface Pod {
  namespace: Namespace;
  labels: Record<string, string>;
  /** Named container ports, for policies that name a port. */
  ports?: { name?: string; containerPort: number }[];
}

/** A LabelSelector in the string form `kubectl -l` and the API server's ?labelSelector= take. */
export function selectorText(selector: V1LabelSelector): string {
  const terms = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`);
  for (const { key, operator, values = [] } of selector.matchExpressions ?? []) {
    if (operator === 'In') terms.push(`${key} in (${values.join(',')})`);
    else if (operator === 'NotIn') terms.push(`${key} notin (${values.join(',')})`);
    else if (operator === 'Exists') terms.push(key);
    else if (operator === 'DoesNotExist') terms.push(`!${key}`);
    else throw new Error(`unknown label selector operator ${operator}`);
  }
  return terms.join(',');
}

/** An empty selector ({}) selects everything; an absent one is the caller's business. */
export function selects(selector: V1LabelSelector, labels: Record<string, string>): boolean {
  return labelMatcher(selectorText(selector))({ metadata: { labels } });
}

function namespaceLabels(namespace: Namespace): Record<string, string> {
  return { ...namespace.labels, 'kubernetes.io/metadata.name': namespace.name };
}

function peerAdmits(peer: V1NetworkPolicyPeer, policyNamespace: string, source: Pod): boolean {
  // Pods are matched by labels; an address block says nothing about which pod holds an address.
  if (peer.ipBlock) return false;
  const inNamespace = peer.namespaceSelector
    ? selects(peer.namespaceSelector, namespaceLabels(source.namespace))
    : source.namespace.name === policyNamespace;
  return inNamespace && (peer.podSelector === undefined || selects(peer.podSelector, source.labels));
}

function portAdmits(rule: V1NetworkPolicyPort, target: Pod, port: number): boolean {
  if ((rule.protocol ?? 'TCP') !== 'TCP') return false;
  if (rule.port === undefined) return true;
  const first = typeof rule.port === 'number' ? rule.port : target.ports?.find((p) => p.name === rule.port)?.containerPort;
  if (first === undefined) return false;
  return port >= first && port <= (rule.endPort ?? first);
}

function namespaceOf(policy: NetworkPolicy): string {
  const namespace = policy.metadata.namespace;
  if (!namespace) throw new Error(`NetworkPolicy ${policy.metadata.name} has no namespace`);
  return namespace;
}

/** The policies that isolate `target` for ingress. */
export function isolating(policies: readonly NetworkPolicy[], target: Pod): NetworkPolicy[] {
  return policies.filter((policy) => {
    const types = policy.spec?.policyTypes ?? ['Ingress'];
    return namespaceOf(policy) === target.namespace.name && types.includes('Ingress') && selects(policy.spec?.podSelector ?? {}, target.labels);
  });
}

/** Whether `source` may connect to `target` on TCP `port` under `policies`. */
export function admits(policies: readonly NetworkPolicy[], source: Pod, target: Pod, port: number): boolean {
  const selecting = isolating(policies, target);
  if (selecting.length === 0) return true;
  return selecting.some((policy) =>
    (policy.spec?.ingress ?? []).some(
      (rule) =>
        (rule.ports === undefined || rule.ports.length === 0 || rule.ports.some((p) => portAdmits(p, target, port))) &&
        (rule.from === undefined || rule.from.length === 0 || rule.from.some((peer) => peerAdmits(peer, namespaceOf(policy), source))),
    ),
  );
}
