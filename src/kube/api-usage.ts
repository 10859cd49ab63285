/**
 * Every Kubernetes API call infermesh makes, in one place. The manifests' RBAC is tested against this list,
 * and the Kubernetes source, event recorder and leader election only use what is listed here.
 */
export interface ApiUsage {
  apiGroup: string;
  resource: string;
  verbs: readonly string[];
  /** cluster: across the watched namespaces (ClusterRole); own: only in the control plane's namespace (Role). */
  scope: 'cluster' | 'own';
  why: string;
}

export const KUBE_API_USAGE: readonly ApiUsage[] = [
  { apiGroup: '', resource: 'configmaps', verbs: ['list', 'watch'], scope: 'cluster', why: 'policy and defaults ConfigMaps (label-selected)' },
  { apiGroup: 'discovery.k8s.io', resource: 'endpointslices', verbs: ['list', 'watch'], scope: 'cluster', why: 'endpoints of the Services policies name' },
  { apiGroup: '', resource: 'events', verbs: ['create', 'patch'], scope: 'cluster', why: 'report rejected and recovered policies on their ConfigMaps' },
  { apiGroup: 'coordination.k8s.io', resource: 'leases', verbs: ['get', 'create', 'update'], scope: 'own', why: 'one replica writes Events' },
];

export const POLICY_LABEL_SELECTOR = 'infermesh.io/policy=true';
export const DEFAULTS_LABEL_SELECTOR = 'infermesh.io/defaults=true';
export const EVENTS_LEASE_NAME = 'infermesh-events';
