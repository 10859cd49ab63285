/**
 * manifests/: every object is a valid Kubernetes object, the control plane Deployment is what the code
 * expects, RBAC grants exactly what src/kube/api-usage.ts says the code calls, the example policies
 * validate and point at Services that exist, and the pinned kustomize builds both trees.
 */
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';
import { describeWithTool, kustomizeBinary } from '../support/tools.ts';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1ConfigMap,
  V1Container,
  V1Deployment,
  V1PersistentVolumeClaim,
  V1PodDisruptionBudget,
  V1PolicyRule,
  V1Role,
  V1RoleBinding,
  V1Service,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { EVENTS_LEASE_NAME, KUBE_API_USAGE } from '../../src/kube/api-usage.ts';
import { parseDefaults, parsePolicyConfigMap, parsePolicyConfigMapWithDefaults, type ParsedPolicies } from '../../src/policy/index.ts';
import type { ConfigMapObject } from '../../src/sources/types.ts';
import {
  MANIFESTS,
  isKustomization,
  isMonitoring,
  loadKustomization,
  loadManifestObjects,
  modelTypeFor,
  parseStream,
  quantity,
  schemaProblems,
  yamlFiles,
  type KubeObject,
  type LoadedObject,
} from './support.ts';

const CONTROL_PLANE_NS = 'infermesh-system';
const all = loadManifestObjects();
/** The client before `infermesh inject`: not part of the overlay (client/client.yaml, generated from it, is). */
const CLIENT_SOURCE = 'examples/client/client.source.yaml';
const CLIENT_INJECTED = 'examples/client/client.yaml';
/** The objects kustomize builds from `dir` itself (without the base, for the overlay). */
const inDir = (dir: string): LoadedObject[] => all.filter((o) => o.file.startsWith(`${dir}/`) && o.file !== CLIENT_SOURCE);

/** The one object of this kind and name in `dir`, typed as its API type (the schema test checks its shape). */
function find<T>(dir: string, kind: string, name: string, namespace?: string): T {
  const matches = inDir(dir).filter(
    ({ object }) => object.kind === kind && object.metadata.name === name && (namespace === undefined || object.metadata.namespace === namespace),
  );
  if (matches.length !== 1) throw new Error(`expected one ${kind} ${name} in manifests/${dir}, found ${matches.length}`);
  const [match] = matches;
  return typed<T>(match?.object);
}

function typed<T>(value: unknown): T {
  return value as T;
}

function ofKind<T>(dir: string, kind: string): T[] {
  return inDir(dir)
    .filter(({ object }) => object.kind === kind)
    .map(({ object }) => typed<T>(object));
}

/** A container port by name or number, as a number. */
function containerPort(container: V1Container, port: string | number | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  return selector !== undefined && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** The ConfigMap as the policy parser sees it (what the Kubernetes source hands over). */
function configMapObject(cm: V1ConfigMap, file: string): ConfigMapObject {
  return {
    namespace: cm.metadata?.namespace ?? 'default',
    name: cm.metadata?.name ?? '',
    labels: cm.metadata?.labels ?? {},
    data: cm.data ?? {},
    creationTimestamp: '2026-01-01T00:00:00Z',
    origin: `manifests/${file}`,
  };
}

describe('every object under manifests/', () => {
  it('parses, and has apiVersion, kind and metadata.name', () => {
    // loadManifestObjects throws, naming the file, on a syntax error or an object without them.
    const files = new Set(all.map((o) => o.file));
    expect([...files].sort()).toEqual(yamlFiles(MANIFESTS).filter((f) => !isKustomization(f) && !isMonitoring(f)));
    expect(all.length).toBeGreaterThanOrEqual(20);
  });

  it('matches the Kubernetes API schema: no unknown (misspelt or misplaced) fields, scalars of the right type', () => {
    const problems = all.flatMap(({ file, object }) => {
      const type = modelTypeFor(object);
      if (!type) return [`${file}: ${object.apiVersion} ${object.kind} is not a Kubernetes API type`];
      return schemaProblems(type, object, `${file} ${object.kind}/${object.metadata.name}`);
    });
    expect(problems).toEqual([]);
  });

  it('is unique by kind, namespace and name within each tree', () => {
    for (const dir of ['base', 'examples']) {
      const keys = inDir(dir).map(({ object }) => `${object.kind} ${object.metadata.namespace ?? ''}/${object.metadata.name}`);
      expect(keys.filter((key, i) => keys.indexOf(key) !== i), dir).toEqual([]);
    }
  });

  it('is listed in its kustomization (every listed file exists; only the not-yet-injected client source is left out)', () => {
    const base = loadKustomization('base').resources;
    expect(base.sort()).toEqual(yamlFiles(path.join(MANIFESTS, 'base')).filter((f) => !isKustomization(f)));

    const examples = loadKustomization('examples').resources;
    expect(examples).toContain('../base');
    const listed = examples.filter((r) => r !== '../base');
    for (const file of listed) expect(existsSync(path.join(MANIFESTS, 'examples', file)), file).toBe(true);
    const unlisted = yamlFiles(path.join(MANIFESTS, 'examples')).filter((f) => !isKustomization(f) && !listed.includes(f));
    expect(unlisted).toEqual([path.relative('examples', CLIENT_SOURCE)]);
  });

  it('names a namespace for every namespaced object; the base keeps everything in infermesh-system', () => {
    const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding']);
    for (const { file, object } of all) {
      if (clusterScoped.has(object.kind)) expect(object.metadata.namespace, `${file} ${object.kind}`).toBeUndefined();
      else expect(object.metadata.namespace, `${file} ${object.kind}/${object.metadata.name}`).toMatch(/^[a-z0-9-]+$/);
    }
    for (const { object } of inDir('base')) {
      if (!clusterScoped.has(object.kind)) expect(object.metadata.namespace).toBe(CONTROL_PLANE_NS);
    }
    expect(inDir('base').filter((o) => o.object.kind === 'Namespace').map((o) => o.object.metadata.name)).toEqual([CONTROL_PLANE_NS]);
  });
});

describe('the control plane Deployment', () => {
  const deployment = find<V1Deployment>('base', 'Deployment', 'infermesh', CONTROL_PLANE_NS);
  const pod = deployment.spec?.template;
  const containers = pod?.spec?.containers ?? [];
  const [container] = containers;
  if (!container) throw new Error('manifests/base/deployment.yaml has no container');

  it('runs two replicas of the released image as `serve` with in-cluster config, under its ServiceAccount', () => {
    expect(deployment.spec?.replicas).toBe(2);
    expect(containers).toHaveLength(1);
    expect(container.image).toBe('ghcr.io/infermesh/infermesh:0.1.0');
    expect(container.args).toEqual(['serve', '--xds-address=0.0.0.0:18000', '--admin-address=0.0.0.0:9090']);
    expect(container.command).toBeUndefined(); // the image's ENTRYPOINT (see the Dockerfile test)
    expect(container.args?.some((a) => a.startsWith('--config-dir') || a.startsWith('--kubeconfig'))).toBe(false);
    expect(pod?.spec?.serviceAccountName).toBe('infermesh');
    expect(pod?.spec?.automountServiceAccountToken).not.toBe(false);
    find<KubeObject>('base', 'ServiceAccount', 'infermesh', CONTROL_PLANE_NS);
  });

  it('gets POD_NAME and POD_NAMESPACE from the downward API', () => {
    const env = new Map(container.env?.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    expect(env.get('POD_NAME')).toBe('metadata.name');
    expect(env.get('POD_NAMESPACE')).toBe('metadata.namespace');
  });

  it('exposes xDS on 18000 (grpc-xds) and admin on 9090 (http-admin)', () => {
    expect(container.ports?.map((p) => [p.name, p.containerPort])).toEqual([
      ['grpc-xds', 18000],
      ['http-admin', 9090],
    ]);
  });

  it('probes liveness on /healthz and readiness on /readyz at the admin port, with a startup probe', () => {
    const probe = (kind: 'livenessProbe' | 'readinessProbe' | 'startupProbe') => {
      const get = container[kind]?.httpGet;
      return { path: get?.path, port: containerPort(container, get?.port) };
    };
    expect(probe('livenessProbe')).toEqual({ path: '/healthz', port: 9090 });
    expect(probe('readinessProbe')).toEqual({ path: '/readyz', port: 9090 });
    // Startup must not wait for readiness: a slow first list in a big cluster is no reason to restart.
    expect(probe('startupProbe')).toEqual({ path: '/healthz', port: 9090 });
    const startup = container.startupProbe;
    expect((startup?.periodSeconds ?? 10) * (startup?.failureThreshold ?? 3)).toBeGreaterThanOrEqual(30);
  });

  it('runs non-root with a read-only root filesystem, no capabilities, no privilege escalation, RuntimeDefault seccomp', () => {
    const podSecurity = pod?.spec?.securityContext;
    const security = container.securityContext;
    expect(podSecurity?.runAsNonRoot).toBe(true);
    expect(podSecurity?.runAsUser).toBe(65532);
    expect(podSecurity?.seccompProfile?.type).toBe('RuntimeDefault');
    expect(security?.runAsNonRoot).toBe(true);
    expect(security?.runAsUser).toBe(65532);
    expect(security?.readOnlyRootFilesystem).toBe(true);
    expect(security?.allowPrivilegeEscalation).toBe(false);
    expect(security?.privileged).not.toBe(true);
    expect(security?.capabilities?.drop).toEqual(['ALL']);
    expect(security?.capabilities?.add).toBeUndefined();
    expect(security?.seccompProfile?.type).toBe('RuntimeDefault');
    expect(pod?.spec?.hostNetwork).not.toBe(true);
    // Meets the restricted Pod Security Standard its namespace enforces.
    const namespace = find<KubeObject>('base', 'Namespace', CONTROL_PLANE_NS);
    expect(namespace.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
  });

  it('spreads replicas across nodes (and zones, best effort) and never drops below two ready during a rollout', () => {
    const labels = pod?.metadata?.labels;
    expect(selects(deployment.spec?.selector.matchLabels, labels)).toBe(true);
    const spread = pod?.spec?.topologySpreadConstraints ?? [];
    const byKey = new Map(spread.map((c) => [c.topologyKey, c]));
    expect(byKey.get('kubernetes.io/hostname')).toMatchObject({ maxSkew: 1 });
    expect(byKey.get('topology.kubernetes.io/zone')).toMatchObject({ maxSkew: 1, whenUnsatisfiable: 'ScheduleAnyway' });
    for (const constraint of spread) expect(selects(constraint.labelSelector?.matchLabels, labels)).toBe(true);
    const anti = pod?.spec?.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
    expect(anti.map((t) => t.podAffinityTerm.topologyKey)).toContain('kubernetes.io/hostname');
    for (const term of anti) expect(selects(term.podAffinityTerm.labelSelector?.matchLabels, labels)).toBe(true);
    expect(deployment.spec?.strategy?.rollingUpdate?.maxUnavailable).toBe(0);
    expect(pod?.spec?.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(10);
    expect(pod?.spec?.terminationGracePeriodSeconds).toBeLessThanOrEqual(60);
  });

  it('requests CPU and memory, and limits memory above the request', () => {
    const { requests, limits } = container.resources ?? {};
    expect(quantity(requests?.['cpu'])).toBeGreaterThan(0);
    expect(quantity(requests?.['memory'])).toBeGreaterThan(0);
    expect(quantity(limits?.['memory'])).toBeGreaterThanOrEqual(quantity(requests?.['memory']));
    if (limits?.['cpu'] !== undefined) expect(quantity(limits['cpu'])).toBeGreaterThanOrEqual(quantity(requests?.['cpu']));
  });

  it('is reached through the ClusterIP Service on 18000 (appProtocol grpc) and 9090', () => {
    const service = find<V1Service>('base', 'Service', 'infermesh', CONTROL_PLANE_NS);
    expect(service.spec?.type ?? 'ClusterIP').toBe('ClusterIP');
    expect(selects(service.spec?.selector, pod?.metadata?.labels)).toBe(true);
    const ports = service.spec?.ports ?? [];
    expect(ports.map((p) => [p.port, containerPort(container, p.targetPort ?? p.port)])).toEqual([
      [18000, 18000],
      [9090, 9090],
    ]);
    expect(ports.find((p) => p.port === 18000)?.appProtocol).toBe('grpc');
  });

  it('keeps one replica through voluntary disruptions (PodDisruptionBudget minAvailable 1)', () => {
    const pdb = find<V1PodDisruptionBudget>('base', 'PodDisruptionBudget', 'infermesh', CONTROL_PLANE_NS);
    expect(pdb.spec?.minAvailable).toBe(1);
    expect(selects(pdb.spec?.selector?.matchLabels, pod?.metadata?.labels)).toBe(true);
    expect(deployment.spec?.replicas).toBeGreaterThan(1); // minAvailable 1 of 1 would block every node drain
  });
});

describe('RBAC', () => {
  type Grants = Map<string, Set<string>>;
  const grantKey = (group: string, resource: string) => `${group || 'core'}/${resource}`;

  /** verbs by group/resource; wildcards are refused outright. */
  function grants(rules: readonly V1PolicyRule[]): Grants {
    const result: Grants = new Map();
    for (const rule of rules) {
      expect(rule.nonResourceURLs).toBeUndefined();
      for (const list of [rule.apiGroups ?? [], rule.resources ?? [], rule.verbs]) expect(list).not.toContain('*');
      for (const group of rule.apiGroups ?? []) {
        for (const resource of rule.resources ?? []) {
          const verbs = result.get(grantKey(group, resource)) ?? new Set<string>();
          for (const verb of rule.verbs) verbs.add(verb);
          result.set(grantKey(group, resource), verbs);
        }
      }
    }
    return result;
  }

  function used(scope: 'cluster' | 'own'): Record<string, string[]> {
    const result: Record<string, string[]> = {};
    for (const usage of KUBE_API_USAGE.filter((u) => u.scope === scope)) {
      const key = grantKey(usage.apiGroup, usage.resource);
      result[key] = [...new Set([...(result[key] ?? []), ...usage.verbs])].sort();
    }
    return result;
  }

  const asRecord = (g: Grants) => Object.fromEntries([...g].map(([k, v]) => [k, [...v].sort()]));
  const clusterRole = find<V1ClusterRole>('base', 'ClusterRole', 'infermesh');
  const role = find<V1Role>('base', 'Role', 'infermesh', CONTROL_PLANE_NS);

  it("the ClusterRole grants exactly the 'cluster' scope calls of KUBE_API_USAGE: every verb used, none unused", () => {
    expect(asRecord(grants(clusterRole.rules ?? []))).toEqual(used('cluster'));
    expect(clusterRole.aggregationRule).toBeUndefined();
    for (const rule of clusterRole.rules ?? []) expect(rule.resourceNames).toBeUndefined();
  });

  it("the Role in infermesh-system grants exactly the 'own' scope calls of KUBE_API_USAGE", () => {
    expect(asRecord(grants(role.rules ?? []))).toEqual(used('own'));
  });

  it(`the Role limits every Lease verb that can be limited to the ${EVENTS_LEASE_NAME} Lease; only create is unrestricted`, () => {
    for (const rule of role.rules ?? []) {
      if (rule.verbs.includes('create')) {
        // Kubernetes cannot authorize create by resourceNames (no name yet), so create stands alone.
        expect(rule.verbs).toEqual(['create']);
        expect(rule.resourceNames).toBeUndefined();
      } else {
        expect(rule.resourceNames).toEqual([EVENTS_LEASE_NAME]);
      }
    }
    const leaseVerbs = KUBE_API_USAGE.find((u) => u.resource === 'leases')?.verbs ?? [];
    expect(leaseVerbs).toContain('create');
    expect(leaseVerbs.length).toBeGreaterThan(1);
  });

  it('binds both roles to the infermesh ServiceAccount in infermesh-system, the one the Deployment runs as', () => {
    const subject = [{ kind: 'ServiceAccount', name: 'infermesh', namespace: CONTROL_PLANE_NS }];
    const clusterBinding = find<V1ClusterRoleBinding>('base', 'ClusterRoleBinding', 'infermesh');
    expect(clusterBinding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: clusterRole.metadata?.name });
    expect(clusterBinding.subjects).toEqual(subject);
    const binding = find<V1RoleBinding>('base', 'RoleBinding', 'infermesh', CONTROL_PLANE_NS);
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata?.name });
    expect(binding.subjects).toEqual(subject);
    const deployment = find<V1Deployment>('base', 'Deployment', 'infermesh', CONTROL_PLANE_NS);
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe(subject[0]?.name);
  });

  it('nothing else grants permissions', () => {
    const rbacKinds = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);
    expect(all.filter(({ object }) => rbacKinds.has(object.kind)).map(({ file }) => file)).toEqual(Array(4).fill('base/rbac.yaml'));
  });
});

describe('the cluster-wide defaults ConfigMap', () => {
  const cm = find<V1ConfigMap>('base', 'ConfigMap', 'infermesh-defaults', CONTROL_PLANE_NS);
  const defaults = parseDefaults([configMapObject(cm, 'base/defaults-configmap.yaml')], CONTROL_PLANE_NS);

  it('is a valid defaults document in the control plane namespace, under a .yaml key', () => {
    expect(cm.metadata?.labels?.['infermesh.io/defaults']).toBe('true');
    expect(Object.keys(cm.data ?? {}).every((key) => key.endsWith('.yaml'))).toBe(true);
    expect(defaults.errors).toEqual([]);
    expect(defaults.defaults).toHaveLength(1);
    expect(Object.keys(defaults.defaults[0]?.layer.values ?? {}).sort()).toEqual(
      ['circuitBreaker', 'outlierDetection', 'protocol', 'retries', 'server', 'timeout'].sort(),
    );
  });

  it('spells out the built-in defaults, so applying it as shipped changes no policy', () => {
    const layers = defaults.defaults.map((d) => d.layer);
    const minimal = configMapObject(
      { metadata: { name: 'minimal', namespace: 'models', labels: { 'infermesh.io/policy': 'true' } }, data: { 'policy.yaml': 'model: m\nbackends: [{ name: a, service: s, port: grpc }]\n' } },
      'inline',
    );
    const policies = [minimal, ...ofKind<V1ConfigMap>('examples', 'ConfigMap').map((c) => configMapObject(c, 'examples'))];
    const strip = (parsed: ParsedPolicies) => parsed.policies.map(({ provenance: _provenance, ...policy }) => policy);
    for (const policy of policies) {
      expect(strip(parsePolicyConfigMapWithDefaults(policy, layers))).toEqual(strip(parsePolicyConfigMap(policy)));
    }
  });
});

describe('the examples overlay', () => {
  const policyMaps = inDir('examples').filter(({ object }) => object.kind === 'ConfigMap' && object.metadata.labels?.['infermesh.io/policy'] === 'true');
  const parsed = policyMaps.map(({ file, object }) => parsePolicyConfigMap(configMapObject(typed<V1ConfigMap>(object), file)));
  const policies = parsed.flatMap((p) => p.policies);
  const byModel = new Map(policies.map((p) => [p.model, p]));

  it('has policy ConfigMaps that the policy parser accepts with zero errors', () => {
    expect(policyMaps.length).toBeGreaterThanOrEqual(2);
    expect(parsed.flatMap((p) => p.errors)).toEqual([]);
    expect([...byModel.keys()].sort()).toEqual(['bert', 'resnet50']);
  });

  it('splits resnet50 90/10 between the stable and canary Triton Services', () => {
    const resnet = byModel.get('resnet50');
    expect(resnet?.server).toBe('triton');
    expect(resnet?.backends.map((b) => [b.service, b.version, b.weight])).toEqual([
      ['resnet50-triton', '1', 90],
      ['resnet50-triton-v2', '2', 10],
    ]);
  });

  it('serves bert from TF Serving with retries and outlier detection', () => {
    const bert = byModel.get('bert');
    expect(bert?.server).toBe('tfserving');
    expect(bert?.retries.attempts).toBeGreaterThan(0);
    expect(bert?.outlierDetection).toBeDefined();
    const cm = find<V1ConfigMap>('examples', 'ConfigMap', 'bert-policy', 'models');
    const document = parseStream(cm.data?.['policy.yaml'] ?? '', 'bert-policy');
    expect(document[0]).toMatchObject({ retries: { attempts: 3 }, outlierDetection: { consecutiveErrors: 5 } });
  });

  it('has, for every backend, its Service in the policy namespace with the named port, selecting pods that expose it', () => {
    const deployments = ofKind<V1Deployment>('examples', 'Deployment');
    for (const policy of policies) {
      for (const backend of policy.backends) {
        const namespace = backend.namespace ?? policy.source.namespace;
        const service = find<V1Service>('examples', 'Service', backend.service, namespace);
        const port = service.spec?.ports?.find((p) => (typeof backend.port === 'number' ? p.port === backend.port : p.name === backend.port));
        expect(port, `${backend.service} port ${backend.port}`).toBeDefined();
        expect(port?.appProtocol).toBe(policy.protocol === 'grpc' ? 'grpc' : 'http');
        const targets = deployments.filter(
          (d) => d.metadata?.namespace === namespace && selects(service.spec?.selector, d.spec?.template.metadata?.labels),
        );
        expect(targets.map((d) => d.metadata?.name), `pods behind ${backend.service}`).toHaveLength(1);
        const server = targets[0]?.spec?.template.spec?.containers[0];
        expect(server && containerPort(server, port?.targetPort ?? port?.port)).toBeGreaterThan(0);
      }
    }
  });

  it('runs Triton (stable and canary) with its model repository read-only, health-checked on /v2/health/ready', () => {
    for (const name of ['resnet50-triton', 'resnet50-triton-v2']) {
      const spec = find<V1Deployment>('examples', 'Deployment', name, 'models').spec?.template.spec;
      const triton = spec?.containers[0];
      expect(triton?.image).toMatch(/^nvcr\.io\/nvidia\/tritonserver:\d\d\.\d\d-py3$/);
      expect(triton?.args?.slice(0, 2)).toEqual(['tritonserver', '--model-repository=/models']);
      expect(triton?.ports?.map((p) => [p.name, p.containerPort])).toEqual([
        ['http', 8000],
        ['grpc', 8001],
        ['metrics', 8002],
      ]);
      expect(triton?.readinessProbe?.httpGet?.path).toBe('/v2/health/ready');
      expect(triton && containerPort(triton, triton.readinessProbe?.httpGet?.port)).toBe(8000);
      expect(triton?.volumeMounts?.find((m) => m.mountPath === '/models')?.readOnly).toBe(true);
      const volume = spec?.volumes?.find((v) => v.persistentVolumeClaim);
      expect(volume?.persistentVolumeClaim?.readOnly).toBe(true);
      find<V1PersistentVolumeClaim>('examples', 'PersistentVolumeClaim', volume?.persistentVolumeClaim?.claimName ?? '', 'models');
    }
    // The GPU request is offered, commented out, so the example also schedules on clusters without GPUs.
    expect(readFileSync(path.join(MANIFESTS, 'examples/resnet50-triton.yaml'), 'utf8')).toMatch(/#\s*nvidia\.com\/gpu: 1/);
  });

  it('runs TF Serving for bert with its model repository read-only, health-checked on /v1/models/bert', () => {
    const spec = find<V1Deployment>('examples', 'Deployment', 'bert-tfserving', 'models').spec?.template.spec;
    const tfserving = spec?.containers[0];
    expect(tfserving?.image).toMatch(/^tensorflow\/serving:\d+\.\d+\.\d+$/);
    expect(tfserving?.args).toEqual(expect.arrayContaining(['--model_name=bert', '--model_base_path=/models/bert']));
    expect(tfserving?.ports?.map((p) => [p.name, p.containerPort])).toEqual([
      ['grpc', 8500],
      ['http', 8501],
    ]);
    expect(tfserving?.readinessProbe?.httpGet?.path).toBe('/v1/models/bert');
    expect(tfserving && containerPort(tfserving, tfserving.readinessProbe?.httpGet?.port)).toBe(8501);
    expect(tfserving?.volumeMounts?.find((m) => m.mountPath === '/models')?.readOnly).toBe(true);
  });

  it('requests shared model-repository volumes (ReadWriteMany or ReadOnlyMany) with a size', () => {
    const claims = ofKind<V1PersistentVolumeClaim>('examples', 'PersistentVolumeClaim');
    expect(claims.length).toBeGreaterThanOrEqual(2);
    for (const claim of claims) {
      expect(claim.spec?.accessModes?.some((m) => m === 'ReadWriteMany' || m === 'ReadOnlyMany')).toBe(true);
      expect(quantity(claim.spec?.resources?.requests?.['storage'])).toBeGreaterThan(0);
    }
  });

  it('creates the namespaces its objects live in (models, apps)', () => {
    const created = inDir('examples').filter(({ object }) => object.kind === 'Namespace').map(({ object }) => object.metadata.name);
    expect(created.sort()).toEqual(['apps', 'models']);
    const used = new Set(inDir('examples').flatMap(({ object }) => (object.metadata.namespace ? [object.metadata.namespace] : [])));
    expect([...used].every((ns) => created.includes(ns))).toBe(true);
  });

  const clientSource = all.filter((o) => o.file === CLIENT_SOURCE).map((o) => typed<V1Deployment>(o.object));

  it('has a client Deployment source in apps, without a sidecar: it calls the local sidecar with x-model', () => {
    expect(clientSource.map((d) => [d.kind, d.metadata?.namespace, d.metadata?.name])).toEqual([['Deployment', 'apps', 'inference-client']]);
    const containers = clientSource[0]?.spec?.template.spec?.containers ?? [];
    expect(containers.map((c) => c.name)).toEqual(['client']);
    const script = containers[0]?.args?.join('\n') ?? '';
    expect(script).toContain('127.0.0.1:15001');
    expect(script).toContain('x-model: $1');
  });

  // client/client.yaml is generated from the source with `infermesh inject` and then listed in the overlay.
  it('is kept up to date: client.yaml is exactly what infermesh inject makes of client.source.yaml', async () => {
    const chunks: Buffer[] = [];
    const out = new Writable({ write: (chunk: Buffer, _encoding, done) => { chunks.push(chunk); done(); } });
    const code = await main(['inject', '-f', path.join(MANIFESTS, 'examples/client/client.source.yaml')], out, new Writable({ write: (_c, _e, done) => done() }));
    expect(code).toBe(0);
    expect(Buffer.concat(chunks).toString()).toBe(readFileSync(path.join(MANIFESTS, CLIENT_INJECTED), 'utf8'));
  });

  it('has the injected client: the source plus the sidecar and its bootstrap', () => {
    expect(loadKustomization('examples').resources).toContain(path.relative('examples', CLIENT_INJECTED));
    const injected = all.filter((o) => o.file === CLIENT_INJECTED);
    const deployment = typed<V1Deployment>(injected.find((o) => o.object.kind === 'Deployment')?.object);
    const containers = deployment.spec?.template.spec?.containers ?? [];
    // The application container runs as written (inject may add environment, e.g. the proxy address).
    const { env: _env, ...client } = containers.find((c) => c.name === 'client') ?? { name: 'missing' };
    expect(client).toEqual(clientSource[0]?.spec?.template.spec?.containers[0]);
    expect(containers.length + (deployment.spec?.template.spec?.initContainers?.length ?? 0)).toBeGreaterThan(1);
    expect(injected.filter((o) => o.object.kind === 'ConfigMap').map((o) => `${o.object.metadata.namespace}/${o.object.metadata.name}`)).toEqual([
      'apps/infermesh-envoy-bootstrap',
    ]);
  });
});

const run = promisify(execFile);

async function kustomize(binary: string, dir: string): Promise<KubeObject[]> {
  const { stdout, stderr } = await run(binary, ['build', path.join(MANIFESTS, dir)], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  expect(stderr).toBe(''); // kustomize prints deprecation warnings here
  return parseStream(stdout, `kustomize build ${dir}`).map((o) => typed<KubeObject>(o));
}

const kinds = (objects: KubeObject[]) => [...new Set(objects.map((o) => o.kind))].sort();

// The pinned kustomize (scripts/tools.sh builds it into .cache/tools/bin; .ci/run runs that script). Debian's
// kubectl 1.20 embeds a kustomize too old for these trees, so it is not used.
describeWithTool('kustomize build', kustomizeBinary(), (binary) => {
  it('builds manifests/base: the control plane, labelled, in infermesh-system', async () => {
    const objects = await kustomize(binary, 'base');
    expect(kinds(objects)).toEqual(
      ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Namespace', 'NetworkPolicy', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Service', 'ServiceAccount'].sort(),
    );
    for (const object of objects) {
      expect(object.metadata.labels?.['app.kubernetes.io/part-of'], `${object.kind}/${object.metadata.name}`).toBe('infermesh');
      if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(object.kind)) expect(object.metadata.namespace).toBe(CONTROL_PLANE_NS);
    }
  });

  it('builds manifests/examples: the base plus model servers, their Services and policies', async () => {
    const objects = await kustomize(binary, 'examples');
    expect(kinds(objects)).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'ConfigMap',
        'Deployment',
        'Namespace',
        'NetworkPolicy',
        'PersistentVolumeClaim',
        'PodDisruptionBudget',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    const deployments = objects.filter((o) => o.kind === 'Deployment').map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
    expect(deployments).toEqual(
      expect.arrayContaining(['infermesh-system/infermesh', 'models/resnet50-triton', 'models/resnet50-triton-v2', 'models/bert-tfserving']),
    );
    const policies = objects.filter((o) => o.metadata.labels?.['infermesh.io/policy'] === 'true').map((o) => o.metadata.name);
    expect(policies.sort()).toEqual(['bert-policy', 'resnet50-policy']);
  });
});
