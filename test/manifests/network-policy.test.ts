/**
 * manifests/base/networkpolicy.yaml: only pods carrying the label `infermesh inject` sets (or proxyless
 * clients that set it) reach xDS, only pods in the `monitoring` namespace reach admin, and nothing else of
 * the control plane, or of anyone else's pods, is touched. Decided with real label selector matching
 * (the fake API server's) on the pods inject actually produces, on the files and on kustomize's output.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { XDS_CLIENT_LABEL } from '../../src/inject/options.ts';
import { describeWithTool, kustomizeBinary } from '../support/tools.ts';
import { admits, isolating, type Namespace, type NetworkPolicy, type Pod } from './network-policy.ts';
import { MANIFESTS, REPO, loadManifestObjects, parseStream, type KubeObject } from './support.ts';

const XDS_PORT = 18000;
const ADMIN_PORT = 9090;

function typed<T>(value: unknown): T {
  return value as T;
}

const policiesOf = (objects: readonly KubeObject[]) => objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => typed<NetworkPolicy>(o));
const namespaceOf = (objects: readonly KubeObject[], name: string): Namespace => ({
  name,
  labels: objects.find((o) => o.kind === 'Namespace' && o.metadata.name === name)?.metadata.labels ?? {},
});

/** The pod a Deployment (found by namespace/name in `objects`) runs, in its namespace as `objects` declare it. */
function podOf(objects: readonly KubeObject[], namespace: string, name: string): Pod {
  const deployment = typed<V1Deployment | undefined>(
    objects.find((o) => o.kind === 'Deployment' && o.metadata.namespace === namespace && o.metadata.name === name),
  );
  const template = deployment?.spec?.template;
  if (!template) throw new Error(`no Deployment ${namespace}/${name}`);
  return {
    namespace: namespaceOf(objects, namespace),
    labels: template.metadata?.labels ?? {},
    ports: template.spec?.containers.flatMap((c) => c.ports ?? []) ?? [],
  };
}

async function inject(file: string): Promise<KubeObject[]> {
  const chunks: Buffer[] = [];
  const out = new Writable({ write: (chunk: Buffer, _encoding, done) => { chunks.push(chunk); done(); } });
  const code = await main(['inject', '-f', path.join(MANIFESTS, file)], out, new Writable({ write: (_c, _e, done) => done() }));
  if (code !== 0) throw new Error(`infermesh inject -f ${file} exited ${code}`);
  return parseStream(Buffer.concat(chunks).toString(), `inject ${file}`).map((o) => typed<KubeObject>(o));
}

const files = loadManifestObjects();
const fileObjects = files.map((f) => f.object);
const CLIENT_SOURCE = 'examples/client/client.source.yaml';
const sourceObjects = files.filter((f) => f.file === CLIENT_SOURCE).map((f) => f.object);
const apps = namespaceOf(fileObjects, 'apps');
const monitoring: Namespace = { name: 'monitoring' };

/** Who may connect where, as the shipped policies must decide it, given the control plane pod. */
interface Case {
  who: string;
  source: Pod;
  port: number;
  admitted: boolean;
}

async function cases(): Promise<Case[]> {
  const injected = podOf(await inject(CLIENT_SOURCE), 'apps', 'inference-client');
  const notInjected = podOf(sourceObjects, 'apps', 'inference-client');
  const modelServer = podOf(fileObjects, 'models', 'resnet50-triton');
  const proxyless: Pod = { namespace: { name: 'ml' }, labels: { app: 'recommender', [XDS_CLIENT_LABEL]: 'true' } };
  const prometheus: Pod = { namespace: monitoring, labels: { 'app.kubernetes.io/name': 'prometheus' } };
  const controlPlane = podOf(fileObjects, 'infermesh-system', 'infermesh');
  return [
    { who: 'the example client after inject, in apps', source: injected, port: XDS_PORT, admitted: true },
    { who: 'the same pod in an unlabelled namespace', source: { ...injected, namespace: { name: 'shop' } }, port: XDS_PORT, admitted: true },
    { who: 'a proxyless client with the label', source: proxyless, port: XDS_PORT, admitted: true },
    { who: 'the example client before inject', source: notInjected, port: XDS_PORT, admitted: false },
    { who: 'a model server', source: modelServer, port: XDS_PORT, admitted: false },
    { who: 'a control plane replica (status run in it asks every replica)', source: controlPlane, port: XDS_PORT, admitted: true },
    { who: 'a pod calling itself infermesh in another namespace', source: { namespace: { name: 'shop' }, labels: { 'app.kubernetes.io/name': 'infermesh' } }, port: XDS_PORT, admitted: false },
    { who: 'the label set to "false"', source: { ...proxyless, labels: { [XDS_CLIENT_LABEL]: 'false' } }, port: XDS_PORT, admitted: false },
    { who: 'Prometheus in monitoring, on xDS', source: prometheus, port: XDS_PORT, admitted: false },
    { who: 'Prometheus in monitoring', source: prometheus, port: ADMIN_PORT, admitted: true },
    { who: 'any pod in monitoring', source: { namespace: monitoring, labels: {} }, port: ADMIN_PORT, admitted: true },
    { who: 'Prometheus in another namespace', source: { ...prometheus, namespace: { name: 'observability' } }, port: ADMIN_PORT, admitted: false },
    {
      who: 'a namespace that claims kubernetes.io/metadata.name: monitoring (the API server overwrites it)',
      source: { ...prometheus, namespace: { name: 'evil', labels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
      port: ADMIN_PORT,
      admitted: false,
    },
    { who: 'an injected sidecar, on admin', source: injected, port: ADMIN_PORT, admitted: false },
    { who: 'Prometheus, on another port', source: prometheus, port: 8080, admitted: false },
    { who: 'an injected sidecar, on another port', source: injected, port: 8080, admitted: false },
  ];
}

/** Each case with the verdict of `policies`, for one toEqual that names every wrong one. */
function verdicts(policies: readonly NetworkPolicy[], controlPlane: Pod, all: readonly Case[]) {
  return all.map((c) => ({ who: c.who, port: c.port, admitted: admits(policies, c.source, controlPlane, c.port) }));
}
const expected = (all: readonly Case[]) => all.map(({ who, port, admitted }) => ({ who, port, admitted }));

describe('the NetworkPolicies of manifests/base', () => {
  const policies = policiesOf(files.filter((f) => f.file.startsWith('base/')).map((f) => f.object));
  const controlPlane = podOf(fileObjects, 'infermesh-system', 'infermesh');

  it('isolate the control plane pods for ingress only (egress stays open, see the file), and no other pod', () => {
    expect(policies.map((p) => p.metadata.name).sort()).toEqual(['infermesh-admin', 'infermesh-xds']);
    expect(isolating(policies, controlPlane).map((p) => p.metadata.name).sort()).toEqual(['infermesh-admin', 'infermesh-xds']);
    for (const policy of policies) expect(policy.spec?.policyTypes).toEqual(['Ingress']);
    for (const object of fileObjects.filter((o) => o.kind === 'Deployment' && o.metadata.name !== 'infermesh')) {
      const pod = podOf(fileObjects, object.metadata.namespace ?? '', object.metadata.name);
      expect(isolating(policies, { ...pod, namespace: { name: 'infermesh-system' } }), object.metadata.name).toEqual([]);
    }
  });

  it('open exactly the two ports the control plane listens on: xDS 18000 and admin 9090', () => {
    const opened = policies.flatMap((p) => p.spec?.ingress ?? []).flatMap((rule) => rule.ports ?? [{ port: 'every port' }]);
    expect(opened.map((p) => p.port).sort()).toEqual([XDS_PORT, ADMIN_PORT].sort());
    expect(controlPlane.ports?.map((p) => p.containerPort).sort()).toEqual([XDS_PORT, ADMIN_PORT].sort());
  });

  it('let in labelled proxies (inject labels them) on xDS, the monitoring namespace on admin, and nobody else', async () => {
    const all = await cases();
    expect(verdicts(policies, controlPlane, all)).toEqual(expected(all));
  });

  it('let the committed example client (client.yaml) reach xDS', () => {
    const client = podOf(files.filter((f) => f.file === 'examples/client/client.yaml').map((f) => f.object), 'apps', 'inference-client');
    expect(admits(policies, { ...client, namespace: apps }, controlPlane, XDS_PORT)).toBe(true);
    expect(client.labels[XDS_CLIENT_LABEL]).toBe('true');
  });

  it('each open only their own port: policies add up, so removing one closes only its port', async () => {
    const all = await cases();
    for (const policy of policies) {
      const port = policy.metadata.name === 'infermesh-xds' ? XDS_PORT : ADMIN_PORT;
      const alone = verdicts([policy], controlPlane, all);
      expect(alone.filter((v) => v.admitted).every((v) => v.port === port), policy.metadata.name).toBe(true);
    }
  });
});

const run = promisify(execFile);

async function kustomize(binary: string, dir: string): Promise<KubeObject[]> {
  const { stdout, stderr } = await run(binary, ['build', dir], { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 });
  expect(stderr).toBe('');
  return parseStream(stdout, `kustomize build ${dir}`).map((o) => typed<KubeObject>(o));
}

/** The overlay the README gives for Prometheus in another namespace (an indented block), pointed at `base`. */
function readmeOverlay(base: string): string {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^( *)```yaml\n([\s\S]*?)^\1```$/gm)].map(([, indent = '', body = '']) =>
    body.replace(new RegExp(`^${indent}`, 'gm'), ''),
  );
  const block = blocks.find((b) => b.startsWith('apiVersion: kustomize.config.k8s.io/v1beta1\n') && b.includes('name: infermesh-admin'));
  if (!block) throw new Error('README.md has no kustomization overlay patching infermesh-admin');
  const pointed = block.replace(/^( {2}- )\S*manifests\/base$/m, `$1${base}`);
  if (pointed === block) throw new Error('the README overlay does not list manifests/base under resources');
  return pointed;
}

describeWithTool('kustomize build with the NetworkPolicies', kustomizeBinary(), (binary) => {
  it('manifests/base builds them with their selectors as written (the common labels leave selectors alone)', async () => {
    const built = await kustomize(binary, path.join(MANIFESTS, 'base'));
    const all = await cases();
    expect(verdicts(policiesOf(built), podOf(built, 'infermesh-system', 'infermesh'), all)).toEqual(expected(all));
  });

  it('manifests/examples: the injected client it builds reaches xDS, in its namespace as built', async () => {
    const built = await kustomize(binary, path.join(MANIFESTS, 'examples'));
    const controlPlane = podOf(built, 'infermesh-system', 'infermesh');
    const client = podOf(built, 'apps', 'inference-client');
    expect(admits(policiesOf(built), client, controlPlane, XDS_PORT)).toBe(true);
    expect(admits(policiesOf(built), client, controlPlane, ADMIN_PORT)).toBe(false);
  });

  it("the README's overlay moves admin access to another namespace (here: prometheus)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'infermesh-overlay-'));
    try {
      writeFileSync(path.join(dir, 'kustomization.yaml'), readmeOverlay(path.relative(dir, path.join(MANIFESTS, 'base'))));
      const built = await kustomize(binary, dir);
      const controlPlane = podOf(built, 'infermesh-system', 'infermesh');
      const scraper = (namespace: string): Pod => ({ namespace: { name: namespace }, labels: { 'app.kubernetes.io/name': 'prometheus' } });
      expect(admits(policiesOf(built), scraper('prometheus'), controlPlane, ADMIN_PORT)).toBe(true);
      expect(admits(policiesOf(built), scraper('monitoring'), controlPlane, ADMIN_PORT)).toBe(false);
      expect(admits(policiesOf(built), scraper('prometheus'), controlPlane, XDS_PORT)).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
