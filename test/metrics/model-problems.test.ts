/**
 * infermesh_model_problem{model,problem} and infermesh_backend_info{model,backend,version}: what sets them,
 * and that a series goes away when its model leaves the state (the alerts in manifests/monitoring rely on it).
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Controller } from '../../src/controller/controller.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.ts';
import { BackendInfoGauge, ModelProblemsGauge, policyProblems, rolloutProblems } from '../../src/metrics/model-problems.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import type { ModelRef, ReadinessSource } from '../../src/probe/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import { readFolder } from '../../src/sources/folder.ts';
import type { SourceWorld } from '../../src/sources/types.ts';
import { zeroCounts, type ModelEndpoints } from '../../src/status/model-endpoints.ts';
import type { ModelRollout } from '../../src/xds/rollout.ts';
import { SnapshotStore } from '../../src/xds/snapshot-store.ts';
import { testModel, testPolicy } from '../support/models.ts';

async function series(metrics: Metrics, name: string): Promise<string[]> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  const { values } = await metric.get();
  return values.map((v) => `${Object.entries(v.labels).map(([k, l]) => `${k}=${String(l)}`).join(',')} ${v.value}`).sort();
}

const rollout = (model: string, state: ModelRollout['state']): ModelRollout => ({ model, sequence: 1, state, proxies: { relevant: 1, live: 0, pending: [], rejected: [] } });
const endpoints = (model: string, serving: number): ModelEndpoints => ({ model, probe: { enabled: true, port: 'http' }, serving, counts: zeroCounts(), backends: [] });

describe('infermesh_model_problem', () => {
  it('maps rollout states: degraded and pending (not_live) are problems, live is not', () => {
    expect(rolloutProblems([rollout('a', 'degraded'), rollout('b', 'pending'), rollout('c', 'live')])).toEqual([
      { model: 'a', problem: 'degraded' },
      { model: 'b', problem: 'not_live' },
    ]);
  });

  it('maps model states and endpoints: stale, rejected, conflict, and no endpoint getting traffic', () => {
    const status = (model: string, state: 'serving' | 'stale' | 'rejected' | 'conflict') => ({ model, state, problems: [], fingerprint: '' });
    expect(policyProblems([status('a', 'serving'), status('b', 'stale'), status('c', 'rejected'), status('d', 'conflict')], [endpoints('a', 0), endpoints('b', 2)])).toEqual([
      { model: 'b', problem: 'stale' },
      { model: 'c', problem: 'rejected' },
      { model: 'd', problem: 'conflict' },
      { model: 'a', problem: 'no_ready_endpoints' },
    ]);
  });

  it('keeps a series only while the problem lasts, and two writers never remove each other\'s series', async () => {
    const metrics = createMetrics();
    const policy = new ModelProblemsGauge(metrics.modelProblem);
    const rollouts = new ModelProblemsGauge(metrics.modelProblem);
    policy.record([{ model: 'bert', problem: 'stale' }]);
    rollouts.record([{ model: 'bert', problem: 'not_live' }, { model: 'resnet', problem: 'degraded' }]);
    expect(await series(metrics, 'infermesh_model_problem')).toEqual(['model=bert,problem=not_live 1', 'model=bert,problem=stale 1', 'model=resnet,problem=degraded 1']);

    rollouts.record([{ model: 'resnet', problem: 'degraded' }]);
    policy.record([]);
    expect(await series(metrics, 'infermesh_model_problem')).toEqual(['model=resnet,problem=degraded 1']);
    rollouts.record([]);
    expect(await series(metrics, 'infermesh_model_problem')).toEqual([]);
  });
});

describe('infermesh_backend_info', () => {
  it('has one series per backend with its version, "" without one, and drops the old version on a change', async () => {
    const metrics = createMetrics();
    const info = new BackendInfoGauge(metrics.backendInfo);
    const unversioned = testPolicy({ model: 'bert', backends: [{ name: 'main', service: 'bert', port: 'grpc', weight: 100 }] });
    info.record([testModel(), testModel(unversioned)]);
    expect(await series(metrics, 'infermesh_backend_info')).toEqual([
      'model=bert,backend=main,version= 1',
      'model=resnet50,backend=canary,version=2 1',
      'model=resnet50,backend=stable,version=1 1',
    ]);
    const bumped = testPolicy({ backends: [{ name: 'stable', service: 'resnet50-triton', port: 'grpc', version: '3', weight: 100 }] });
    info.record([testModel(bumped)]);
    expect(await series(metrics, 'infermesh_backend_info')).toEqual(['model=resnet50,backend=stable,version=3 1']);
  });
});

describe('the controller sets both from each reconcile', () => {
  const example = path.resolve(import.meta.dirname, '../../examples/basic');
  /** bert is loaded on none of its pods: no endpoint of it gets traffic. */
  const readiness: ReadinessSource = {
    lookup: (_address: string, _port: number, ref: ModelRef) => (ref.model === 'bert' ? { state: 'not-loaded', reason: 'unloaded' } : { state: 'ready' }),
    subscribe: () => () => {},
    setTargets() {},
    close() {},
  };

  it('names bert without ready endpoints, then stale when its policy breaks, and forgets it once removed', async () => {
    const good = await readFolder(path.resolve(example));
    let world: SourceWorld = good;
    const metrics = createMetrics();
    const controller = new Controller({
      source: { read: async () => world },
      store: new SnapshotStore(),
      codec: new ResourceCodec(loadEnvoyProtos()),
      settings: DEFAULT_SETTINGS,
      logger: silentLogger(),
      metrics,
      readiness,
    });
    await controller.start();
    expect(await series(metrics, 'infermesh_model_problem')).toEqual(['model=bert,problem=no_ready_endpoints 1']);
    expect(await series(metrics, 'infermesh_backend_info')).toEqual([
      'model=bert,backend=main,version=3 1',
      'model=resnet50,backend=canary,version=2 1',
      'model=resnet50,backend=stable,version=1 1',
    ]);

    // bert's policy breaks: the last good one keeps serving (stale), still without ready endpoints.
    world = { ...good, configMaps: good.configMaps.map((cm) => (cm.name === 'bert-policy' ? { ...cm, data: Object.fromEntries(Object.keys(cm.data).map((k) => [k, 'model: bert\nbackends: 7\n'])) } : cm)) };
    await controller.refresh();
    expect(await series(metrics, 'infermesh_model_problem')).toEqual(['model=bert,problem=no_ready_endpoints 1', 'model=bert,problem=stale 1']);

    // bert's ConfigMap deleted: no series of it remain.
    world = { ...good, configMaps: good.configMaps.filter((cm) => cm.name !== 'bert-policy') };
    await controller.refresh();
    controller.stop();
    expect(await series(metrics, 'infermesh_model_problem')).toEqual([]);
    expect(await series(metrics, 'infermesh_backend_info')).toEqual(['model=resnet50,backend=canary,version=2 1', 'model=resnet50,backend=stable,version=1 1']);
  });
});
