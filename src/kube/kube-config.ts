import { existsSync } from 'node:fs';
import * as k8s from '@kubernetes/client-node';

/** A kubeconfig file when given, else the pod's in-cluster service account; a clear error when neither exists. */
export function loadKubeConfig(kubeconfigPath: string | undefined, env: NodeJS.ProcessEnv = process.env): k8s.KubeConfig {
  const config = new k8s.KubeConfig();
  if (kubeconfigPath) {
    if (!existsSync(kubeconfigPath)) throw new Error(`--kubeconfig ${kubeconfigPath}: no such file`);
    config.loadFromFile(kubeconfigPath);
    return config;
  }
  if (!env['KUBERNETES_SERVICE_HOST']) {
    throw new Error('not running in a Kubernetes pod (KUBERNETES_SERVICE_HOST is unset): pass --kubeconfig FILE, or --config-dir DIR to read a folder');
  }
  config.loadFromCluster();
  return config;
}
