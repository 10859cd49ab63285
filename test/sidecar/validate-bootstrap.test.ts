/**
 * `envoy --mode validate` on every pinned Envoy: the shipped bootstrap, what `infermesh bootstrap` prints
 * (both ADS flavours, with a node), and the bootstrap `infermesh inject` writes into its ConfigMap.
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

async function validate(binary: string, name: string, bootstrap: string, nodeFlags: string[]): Promise<string> {
  const file = path.join(dir, name);
  writeFileSync(file, bootstrap);
  const { stdout, stderr } = await run(binary, ['--mode', 'validate', '-c', file, ...nodeFlags, '--log-level', 'warn'], { timeout: 30_000 });
  return stdout + stderr;
}

const INJECTED_NODE = ['--service-node', 'web-0.shop', '--service-cluster', 'shop'];

describeWithTool('envoy --mode validate', envoyBinaries(), (binaries) => {
  for (const binary of binaries) {
    it(`Envoy ${binary.version} accepts envoy/bootstrap.yaml with inject's node flags`, async () => {
      const output = await validate(binary.path, `shipped-${binary.version}.yaml`, readFileSync(path.join(REPO, 'envoy', 'bootstrap.yaml'), 'utf8'), INJECTED_NODE);
      expect(output).toMatch(/configuration '.*' OK/);
    });

    it(`Envoy ${binary.version} accepts \`infermesh bootstrap\` output for both ADS flavours`, async () => {
      for (const ads of ['sotw', 'delta']) {
        const text = await cli(['bootstrap', '--xds-address', '127.0.0.1:18000', '--node-id', 'dev.default', '--ads', ads]);
        const output = await validate(binary.path, `cli-${ads}-${binary.version}.yaml`, text, []);
        expect(output).toMatch(/configuration '.*' OK/);
      }
    });

    it(`Envoy ${binary.version} accepts the bootstrap \`infermesh inject\` writes`, async () => {
      const deployment = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: web}]}\n';
      const injected = await cli(['-f', '-', '--xds-address', 'cp.mesh.svc:9000'], deployment);
      const configMap = parseAllDocuments(injected).map((doc) => doc.toJS() as { kind?: string; data?: Record<string, string> }).find((doc) => doc.kind === 'ConfigMap');
      const bootstrap = configMap?.data?.['bootstrap.yaml'];
      expect(bootstrap).toContain('cp.mesh.svc');
      const output = await validate(binary.path, `injected-${binary.version}.yaml`, bootstrap!, INJECTED_NODE);
      expect(output).toMatch(/configuration '.*' OK/);
    });

    it(`Envoy ${binary.version} rejects a bootstrap with a misspelt field (the check can fail)`, async () => {
      const broken = readFileSync(path.join(REPO, 'envoy', 'bootstrap.yaml'), 'utf8').replace('connect_timeout: 1s', 'connect_timout: 1s');
      await expect(validate(binary.path, `broken-${binary.version}.yaml`, broken, INJECTED_NODE)).rejects.toThrow(/connect_timout/);
    });
  }
});
