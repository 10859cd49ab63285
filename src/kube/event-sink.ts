import * as k8s from '@kubernetes/client-node';

/** Where Events go: the Kubernetes API in production, anything that records them in tests. */
export interface EventSink {
  create(namespace: string, event: k8s.CoreV1Event): Promise<void>;
  /** Bumps count and lastTimestamp of an Event already written (the problem came back). */
  repeat(namespace: string, name: string, count: number, at: Date): Promise<void>;
}

export function kubernetesEventSink(config: k8s.KubeConfig): EventSink {
  const api = config.makeApiClient(k8s.CoreV1Api);
  return {
    async create(namespace, body) {
      await api.createNamespacedEvent({ namespace, body });
    },
    async repeat(namespace, name, count, at) {
      await api.patchNamespacedEvent({ name, namespace, body: { count, lastTimestamp: at } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    },
  };
}
