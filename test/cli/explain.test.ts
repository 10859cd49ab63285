import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Explanation } from '../../src/explain/explain.ts';
import { readFolder } from '../../src/sources/folder.ts';
import { startFakeKube, type FakeKube } from '../support/fake-kube/index.ts';
import { runCli as run } from '../support/cli-run.ts';

const example = path.resolve(import.meta.dirname, '../../examples/basic');

async function explain(...argv: string[]): Promise<Explanation> {
  const { code, out, err } = await run('explain', ...argv, '-o', 'json');
  expect(err).toBe('');
  expect(code).toBe(0);
  return JSON.parse(out) as Explanation;
}

describe('infermesh explain on the example', () => {
  it('shows the weighted split, its endpoints, and where every setting came from', async () => {
    const e = await explain('--model', 'resnet50', '--config-dir', example);
    expect(e.route).toEqual({ name: 'resnet50', outcome: 'weighted split across 2 backends' });
    expect(e.backends.map((b) => [b.cluster, b.share, b.endpoints.length])).toEqual([
      ['infermesh|resnet50|stable', '90.0%', 2],
      ['infermesh|resnet50|canary', '10.0%', 1],
    ]);
    const setting = (field: string) => e.settings.find((s) => s.field === field);
    expect(setting('timeout')).toEqual({ field: 'timeout', value: '30s', from: 'policy' });
    expect(setting('outlierDetection.interval')).toEqual({ field: 'outlierDetection.interval', value: '10s', from: 'builtin' });
    expect(e.source).toBe('models/resnet50-policy key "policy.yaml" [doc 0]');
  });

  it('follows a version pin and an alias', async () => {
    const e = await explain('--model', 'resnet', '--version', '2', '--config-dir', example);
    expect(e.model).toBe('resnet50');
    expect(e.route.name).toBe('resnet|version=2');
    expect(e.backends.map((b) => b.cluster)).toEqual(['infermesh|resnet50|canary']);
  });

  it('explains an unknown version as NOT_FOUND', async () => {
    const e = await explain('--model', 'bert', '--version', '9', '--config-dir', example);
    expect(e.route.outcome).toContain('NOT_FOUND');
    expect(e.backends).toEqual([]);
  });

  it('suggests the nearest model for a typo (exit 1)', async () => {
    const { code, err } = await run('explain', '--model', 'bret', '--config-dir', example);
    expect(code).toBe(1);
    expect(err).toContain('did you mean "bert"?');
  });
});

describe('infermesh explain --kubeconfig', () => {
  let kube: FakeKube;
  beforeAll(async () => {
    kube = await startFakeKube();
    const world = await readFolder(example);
    for (const cm of world.configMaps) kube.create('ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: cm.name, namespace: cm.namespace, labels: cm.labels }, data: cm.data });
    kube.create('ConfigMap', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'models-defaults', namespace: 'models', labels: { 'infermesh.io/defaults': 'true' } }, data: { 'd.yaml': 'outlierDetection: { interval: 2s }' } });
  });
  afterAll(async () => {
    await kube?.close();
  });

  it('reads the cluster and credits namespace defaults', async () => {
    const e = await explain('--model', 'resnet50', '--kubeconfig', await kube.writeKubeconfig());
    expect(e.settings.find((s) => s.field === 'outlierDetection.interval')).toEqual({ field: 'outlierDetection.interval', value: '2s', from: 'namespace models/models-defaults' });
    expect(e.backends.every((b) => b.endpoints.length === 0)).toBe(true);
  });
});
