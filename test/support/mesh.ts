import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { parse } from 'yaml';
import { startFakeModelServer, type FakeModelServer, type FakeServerKind } from '../../demo/fake-model-server.ts';
import { startServer, type RunningServer } from '../../src/cli/serve.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { DEFAULT_SETTINGS, type MeshSettings } from '../../src/model/types.ts';

export interface PodSpec {
  kind: FakeServerKind;
  host: string;
  pod: string;
  service: string;
  models: string[];
  version: string;
  zone?: string;
  /**
   * true: the pod has exactly `models` loaded (plus what the test loads: `mesh.pod(...).load(model)`), so a
   * policy routing another model to its Service finds it not loaded once the control plane probes it.
   * Default false: every model a policy of this Mesh routes to the pod's Service is loaded too (at the pod's
   * version) when the policy is written, so pods serve every model routed to them, as before probing existed.
   */
  onlyListedModels?: boolean;
}

/** The model a policy document names and the Services its backends send to; undefined if it does not parse. */
export function policyRouting(policy: string): { model: string; services: string[] } | undefined {
  let document: unknown;
  try {
    document = parse(policy);
  } catch {
    return undefined;
  }
  if (typeof document !== 'object' || document === null || !('model' in document) || typeof document.model !== 'string') return undefined;
  const backends = 'backends' in document && Array.isArray(document.backends) ? document.backends : [];
  const services = backends.flatMap((backend: unknown) =>
    typeof backend === 'object' && backend !== null && 'service' in backend && typeof backend.service === 'string' ? [backend.service] : [],
  );
  return { model: document.model, services };
}

/** Channel options pointing a @grpc/grpc-js-xds channel at this control plane, with its own node id (and zone). */
export function xdsChannelOptions(xdsPort: number, nodeId: string, zone?: string): grpc.ChannelOptions {
  const bootstrap = {
    xds_servers: [{ server_uri: `127.0.0.1:${xdsPort}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: nodeId, cluster: 'e2e', locality: zone === undefined ? {} : { zone } },
  };
  return { 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config': JSON.stringify(bootstrap) };
}

/** One EndpointSlice per pod: pods listen on different ports, and merging slices is part of what is tested. */
export function endpointSlicesYaml(pods: readonly { spec: PodSpec; server: FakeModelServer }[], namespace: string): string {
  return pods
    .map(({ spec, server }) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${spec.pod}
  namespace: ${namespace}
  labels: { kubernetes.io/service-name: ${spec.service} }
addressType: IPv4
ports: [{ name: grpc, port: ${server.grpcPort} }, { name: http, port: ${server.httpPort} }]
endpoints:
  - addresses: ["${spec.host}"]
    conditions: { ready: ${server.ready} }
    ${spec.zone ? `zone: ${spec.zone}` : ''}
    targetRef: { kind: Pod, name: ${spec.pod} }
`)
    .join('---\n');
}

export function policyConfigMapYaml(name: string, namespace: string, policy: string): string {
  const indented = policy.trim().split('\n').map((line) => `    ${line}`).join('\n');
  return `apiVersion: v1
kind: ConfigMap
metadata:
  name: ${name}
  namespace: ${namespace}
  labels: { infermesh.io/policy: "true" }
data:
  policy.yaml: |
${indented}
`;
}

/** How a Mesh's control planes probe model readiness (serve's --probe-* flags); defaults as serve's. */
export interface MeshOptions {
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** false: no probing at all (serve --no-probes). */
  probes?: boolean;
}

/** Fake model pods, a folder describing them, and the control plane serving that folder over real gRPC. */
export class Mesh {
  readonly dir: string;
  readonly namespace = 'models';
  readonly pods = new Map<string, FakeModelServer>();
  readonly specs: PodSpec[];
  server!: RunningServer;
  settings: MeshSettings = DEFAULT_SETTINGS;
  options: MeshOptions = {};

  private constructor(dir: string, specs: PodSpec[]) {
    this.dir = dir;
    this.specs = specs;
  }

  static async start(specs: PodSpec[], policies: Record<string, string>, settings: MeshSettings = DEFAULT_SETTINGS, options: MeshOptions = {}): Promise<Mesh> {
    const mesh = new Mesh(await mkdtemp(path.join(tmpdir(), 'infermesh-e2e-')), specs);
    mesh.options = options;
    for (const spec of specs) {
      mesh.pods.set(spec.pod, await startFakeModelServer({ kind: spec.kind, host: spec.host, pod: spec.pod, models: spec.models, version: spec.version }));
    }
    await mesh.writeSlices();
    for (const [name, policy] of Object.entries(policies)) await mesh.writePolicy(name, policy);
    mesh.settings = settings;
    mesh.server = await mesh.startControlPlane('127.0.0.1:0');
    return mesh;
  }

  /** A control plane serving this mesh's folder (the mesh's own, or another replica of it). */
  startControlPlane(xdsAddress: string, settings: MeshSettings = this.settings): Promise<RunningServer> {
    return startServer({
      source: { kind: 'folder', dir: this.dir },
      xdsAddress,
      adminAddress: '127.0.0.1:0',
      settings,
      logger: silentLogger(),
      holdoffMs: 20,
      probes: {
        ...(this.options.probeIntervalMs !== undefined ? { intervalMs: this.options.probeIntervalMs } : {}),
        ...(this.options.probeTimeoutMs !== undefined ? { timeoutMs: this.options.probeTimeoutMs } : {}),
        ...(this.options.probes !== undefined ? { enabled: this.options.probes } : {}),
      },
    });
  }

  /** Stops the control plane and starts a fresh one on the same xDS port, as a rollout of infermesh would. */
  async restartServer(): Promise<void> {
    const port = this.server.xdsPort;
    await this.server.close();
    this.server = await this.startControlPlane(`127.0.0.1:${port}`);
  }

  /** A pod by name, or by its index in the specs given to start. */
  pod(nameOrIndex: string | number): FakeModelServer {
    const name = typeof nameOrIndex === 'number' ? this.specs[nameOrIndex]?.pod : nameOrIndex;
    const pod = name === undefined ? undefined : this.pods.get(name);
    if (!pod) throw new Error(`no pod ${String(nameOrIndex)}`);
    return pod;
  }

  channelOptions(nodeId: string, zone?: string): grpc.ChannelOptions {
    return xdsChannelOptions(this.server.xdsPort, nodeId, zone);
  }

  /** Writes like an editor does: to a temporary file, then an atomic rename over the target. */
  async writeFileAtomically(name: string, text: string): Promise<void> {
    const target = path.join(this.dir, name);
    const temporary = path.join(this.dir, `.${name}.tmp`);
    await writeFile(temporary, text);
    await rename(temporary, target);
  }

  /** Writes a policy ConfigMap; first loads its model on the pods of its Services (see PodSpec.onlyListedModels). */
  async writePolicy(name: string, policy: string): Promise<void> {
    await this.loadRoutedModel(policy);
    await this.writeFileAtomically(`${name}.yaml`, policyConfigMapYaml(name, this.namespace, policy));
  }

  private async loadRoutedModel(policy: string): Promise<void> {
    const routing = policyRouting(policy);
    if (routing === undefined) return;
    for (const spec of this.specs) {
      if (spec.onlyListedModels === true || !routing.services.includes(spec.service)) continue;
      const pod = this.pods.get(spec.pod);
      if (pod !== undefined && !pod.models().some((entry) => entry.model === routing.model)) await pod.load(routing.model);
    }
  }

  async writeSlices(): Promise<void> {
    const pods = this.specs.map((spec) => ({ spec, server: this.pod(spec.pod) }));
    await this.writeFileAtomically('endpointslices.yaml', endpointSlicesYaml(pods, this.namespace));
  }

  async metrics(): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${this.server.adminPort}/metrics`);
    return response.text();
  }

  async close(): Promise<void> {
    await this.server?.close();
    await Promise.all([...this.pods.values()].map((pod) => pod.close()));
    await rm(this.dir, { recursive: true, force: true });
  }
}
