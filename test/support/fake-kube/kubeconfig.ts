/** A kubeconfig for the fake: its CA as certificate-authority-data and a bearer token user. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { stringify } from 'yaml';

export interface KubeconfigInput {
  server: string;
  caPem: string;
  token: string;
  namespace?: string;
}

export function kubeconfigYaml({ server, caPem, token, namespace = 'default' }: KubeconfigInput): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake-kube', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'fake-kube-user', user: { token } }],
    contexts: [{ name: 'fake-kube', context: { cluster: 'fake-kube', user: 'fake-kube-user', namespace } }],
    'current-context': 'fake-kube',
  });
}

export async function writeKubeconfigFile(dir: string, yaml: string): Promise<string> {
  const file = path.join(dir, 'kubeconfig.yaml');
  await writeFile(file, yaml, { mode: 0o600 });
  return file;
}

/** A client-node KubeConfig for anything that has a kubeconfig() (the fake). */
export function loadKubeConfig(fake: { kubeconfig(): string }): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(fake.kubeconfig());
  return kc;
}
