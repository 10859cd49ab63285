/**
 * `envoy --mode validate` on every pinned Envoy: the shipped bootstrap, what `infermesh bootstrap` prints
 * (with a node), and the bootstrap `infermesh inject` writes into its ConfigMap.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { main } from '../../src/cli/main.ts';
import { REPO, describeWithTool, envoyBinaries } from '../support/tools.ts';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'infermesh-validate-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[], stdin?: string): Promise<string> {
  const chunks: string[] = [];
  const out = { write: (chunk: string) => chunks.push(chunk) } as unknown as NodeJS.WritableStream;
  const err = { write: (chunk: string) => { throw new Error(`stderr: ${chunk}`); } } as unknown as NodeJS.WritableStream;
  if (stdin === undefined) expect(await main(argv, out, err)).toBe(0);
  else {
    const { injectCommand } = await import('../../src/cli/inject.ts');
    const { Readable } = await import('node:stream');
    const quietErr = { write: () => true } as unknown as NodeJS.WritableStream;
    expect(await injectCommand(argv, out, quietErr, Readable.from([stdin]))).toBe(0);
  }
  return chunks.join('');
}

async function validate(binary: string, name: string, bootstrap: string, extraArgs: string[]): Promise<string> {
  const file = path.join(dir, name);
  writeFileSync(file, bootstrap);
  const { stdout, stderr } = await run(binary, ['--mode', 'validate', '-c', file, ...(extraArgs.includes('--log-level') ? [] : ['--log-level', 'warn']), ...extraArgs], { timeout: 30_000 });
  return stdout + stderr;
}

interface InjectedDocument {
  kind?: string;
  data?: Record<string, string>;
  spec?: { template?: { spec?: { initContainers?: { args?: string[] }[] } } };
}

const INJECTED_NODE = ['--service-node', 'web-0.shop', '--service-cluster', 'shop'];

describeWithTool('envoy --mode validate', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    it(`Envoy ${binary.version} accepts envoy/bootstrap.yaml with inject's node flags`, async () => {
      const output = await validate(binary.path, `shipped-${binary.version}.yaml`, readFileSync(path.join(REPO, 'envoy', 'bootstrap.yaml'), 'utf8'), INJECTED_NODE);
      expect(output).toMatch(/configuration '.*' OK/);
    });

    it(`Envoy ${binary.version} accepts \`infermesh bootstrap\` output`, async () => {
      const text = await cli(['bootstrap', '--xds-address', '127.0.0.1:18000', '--node-id', 'dev.default']);
      const output = await validate(binary.path, `cli-${binary.version}.yaml`, text, []);
      expect(output).toMatch(/configuration '.*' OK/);
      // Several control-plane addresses (replicas run by hand): more hosts of the same xDS cluster.
      const replicas = await cli(['bootstrap', '--xds-address', '127.0.0.1:18000,127.0.0.1:18001', '--xds-address', 'localhost:18002', '--node-id', 'dev.default']);
      expect(replicas.match(/port_value: 1800[012]$/gm)).toEqual(['port_value: 18000', 'port_value: 18001', 'port_value: 18002']);
      expect(await validate(binary.path, `cli-replicas-${binary.version}.yaml`, replicas, [])).toMatch(/configuration '.*' OK/);
    });

    it(`Envoy ${binary.version} accepts the bootstrap \`infermesh inject\` writes, run with the sidecar's own arguments`, async () => {
      const deployment = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: web}]}\n';
      const injected = parseAllDocuments(await cli(['-f', '-', '--xds-address', 'cp.mesh.svc:9000'], deployment)).map((doc) => doc.toJS() as InjectedDocument);
      const bootstrap = injected.find((doc) => doc.kind === 'ConfigMap')?.data?.['bootstrap.yaml'];
      expect(bootstrap).toContain('cp.mesh.svc');
      const sidecar = injected.find((doc) => doc.kind === 'Deployment')?.spec?.template?.spec?.initContainers?.[0];
      // The container's arguments, with the downward-API variables the kubelet would expand, minus the config path.
      // INFERMESH_ZONE empty: the pod has no topology.kubernetes.io/zone label (a Kubernetes without PodTopologyLabels).
      const args = (sidecar?.args ?? []).map((arg) => arg.replace('$(POD_NAME)', 'web-0').replace('$(POD_NAMESPACE)', 'shop').replace('$(INFERMESH_ZONE)', ''));
      expect(args).toContain('--service-zone');
      expect(args.slice(0, 2)).toEqual(['-c', '/etc/infermesh/bootstrap.yaml']);
      const output = await validate(binary.path, `injected-${binary.version}.yaml`, bootstrap!, args.slice(2));
      expect(output).toMatch(/configuration '.*' OK/);
    });

    it(`Envoy ${binary.version} rejects a bootstrap with a misspelt field (the check can fail)`, async () => {
      const broken = readFileSync(path.join(REPO, 'envoy', 'bootstrap.yaml'), 'utf8').replace('connect_timeout: 1s', 'connect_timout: 1s');
      await expect(validate(binary.path, `broken-${binary.version}.yaml`, broken, INJECTED_NODE)).rejects.toThrow(/connect_timout/);
    });
  }
});
