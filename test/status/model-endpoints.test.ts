import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics/metrics.ts';
import { ModelEndpointsGauge } from '../../src/metrics/model-endpoints.ts';
import type { Endpoint } from '../../src/model/types.ts';
import { servedModels } from '../../src/status/endpoint-report.ts';
import { FALLBACK_REASON, allModelEndpoints, modelEndpoints, whyNoneServing } from '../../src/status/model-endpoints.ts';
import { testModel, testPolicy } from '../support/models.ts';

const ep = (address: string, extra: Partial<Endpoint> = {}): Endpoint => ({ address, port: 8001, health: 'healthy', podName: `pod-${address.split('.').pop()}`, ...extra });

/** One backend of five endpoints: one in each state the model server and the pod can put it in. */
function mixedModel(name = 'resnet50') {
  const policy = testPolicy({ model: name, backends: [{ name: 'stable', service: 'resnet50-triton', port: 'grpc', weight: 100 }] });
  return testModel(policy, [
    ep('10.0.0.1', { zone: 'zone-a', probePort: 8000, readiness: { state: 'ready' } }),
    ep('10.0.0.2', { health: 'unhealthy', probePort: 8000, readiness: { state: 'not-loaded', reason: 'unknown model' } }),
    ep('10.0.0.3', { health: 'unhealthy', probePort: 8000, readiness: { state: 'loading', reason: 'loading version 2' } }),
    ep('10.0.0.4'),
    ep('10.0.0.5', { health: 'draining' }),
  ]);
}

describe('/status modelEndpoints: per model, backend and endpoint', () => {
  it('shows each endpoint with address, pod, health, state and the server reason, and counts per state', () => {
    const view = modelEndpoints(mixedModel());
    expect(view.model).toBe('resnet50');
    expect(view.probe).toEqual({ enabled: true, port: 'http' });
    expect(view.serving).toBe(2);
    expect(view.counts).toEqual({ ready: 1, loading: 1, 'not-loaded': 1, 'probe-failing': 0, unprobed: 1, draining: 1 });
    expect(view.backends).toHaveLength(1);
    expect(view.backends[0]?.cluster).toBe('infermesh|resnet50|stable');
    expect(view.backends[0]?.service).toBe('models/resnet50-triton:grpc');
    expect(view.backends[0]?.endpoints).toEqual([
      { address: '10.0.0.1:8001', pod: 'pod-1', zone: 'zone-a', health: 'healthy', state: 'ready' },
      { address: '10.0.0.2:8001', pod: 'pod-2', health: 'unhealthy', state: 'not-loaded', reason: 'unknown model' },
      { address: '10.0.0.3:8001', pod: 'pod-3', health: 'unhealthy', state: 'loading', reason: 'loading version 2' },
      { address: '10.0.0.4:8001', pod: 'pod-4', health: 'healthy', state: 'unprobed' },
      { address: '10.0.0.5:8001', pod: 'pod-5', health: 'draining', state: 'draining' },
    ]);
  });

  it('marks endpoints of a backend whose probing failed wholesale with the fallback reason', () => {
    const policy = testPolicy({ backends: [{ name: 'stable', service: 'resnet50-triton', port: 'grpc', weight: 100 }] });
    const failing = { state: 'probe-failing' as const, reason: 'connect ECONNREFUSED', fallback: true };
    const view = modelEndpoints(testModel(policy, [ep('10.0.0.1', { readiness: failing }), ep('10.0.0.2', { readiness: failing })]));
    expect(view.backends[0]?.endpoints.map((e) => [e.health, e.state, e.reason, e.fallback])).toEqual([
      ['healthy', 'probe-failing', 'connect ECONNREFUSED', FALLBACK_REASON],
      ['healthy', 'probe-failing', 'connect ECONNREFUSED', FALLBACK_REASON],
    ]);
    expect(FALLBACK_REASON).toBe('probing failed for every endpoint; routing by pod readiness');
    expect(view.serving).toBe(2);
    expect(view.counts['probe-failing']).toBe(2);
  });

  it('says why nothing serves, backend by backend: no pods, not loaded, probe failing', () => {
    const model = testModel(testPolicy(), []);
    model.backends[1] = { ...model.backends[1]!, endpoints: [ep('10.0.0.7', { health: 'unhealthy', readiness: { state: 'not-loaded', reason: 'UNAVAILABLE: unloaded' } }), ep('10.0.0.8', { health: 'unhealthy', readiness: { state: 'probe-failing', reason: 'timeout after 2s' } })] };
    expect(whyNoneServing(modelEndpoints(model))).toBe(
      'backend stable (models/resnet50-triton:grpc): no pods; backend canary (models/resnet50-triton-v2:grpc): 1 not loaded (UNAVAILABLE: unloaded), 1 probe failing (timeout after 2s)',
    );
  });

  it('orders models by name and reports only models that serve', () => {
    const a = mixedModel('a');
    const b = mixedModel('b');
    const rejected = mixedModel('c');
    const models = servedModels({ models: [b, rejected, a], served: [a.policy, b.policy] });
    expect(allModelEndpoints(models).map((m) => m.model)).toEqual(['a', 'b']);
  });
});

describe('infermesh_model_endpoints{model,state}', () => {
  async function values(metrics: ReturnType<typeof createMetrics>) {
    const metric = await metrics.modelEndpoints.get();
    return Object.fromEntries(metric.values.map((v) => [`${v.labels['model']}/${v.labels['state']}`, v.value]));
  }

  it('counts every state of every model, zeros included, and drops the label sets of a model that goes away', async () => {
    const metrics = createMetrics();
    const gauge = new ModelEndpointsGauge(metrics.modelEndpoints);
    gauge.record(allModelEndpoints([mixedModel('resnet50'), mixedModel('bert')]));
    const first = await values(metrics);
    expect(Object.keys(first)).toHaveLength(12);
    expect(first).toMatchObject({ 'resnet50/ready': 1, 'resnet50/loading': 1, 'resnet50/not-loaded': 1, 'resnet50/probe-failing': 0, 'resnet50/unprobed': 1, 'resnet50/draining': 1 });

    const onlyBert = mixedModel('bert');
    onlyBert.backends[0]!.endpoints = [ep('10.0.0.9', { health: 'unhealthy', readiness: { state: 'probe-failing', reason: 'timeout' } })];
    gauge.record(allModelEndpoints([onlyBert]));
    const second = await values(metrics);
    expect(second).toEqual({ 'bert/ready': 0, 'bert/loading': 0, 'bert/not-loaded': 0, 'bert/probe-failing': 1, 'bert/unprobed': 0, 'bert/draining': 0 });
    expect(await metrics.registry.metrics()).toContain('infermesh_model_endpoints{model="bert",state="probe-failing"} 1');
  });

  it('sets a model again in full when it comes back after going away, and keeps values across identical reconciles', async () => {
    const metrics = createMetrics();
    const gauge = new ModelEndpointsGauge(metrics.modelEndpoints);
    const views = allModelEndpoints([mixedModel('resnet50')]);
    gauge.record(views);
    gauge.record(views);
    expect(await values(metrics)).toMatchObject({ 'resnet50/ready': 1, 'resnet50/draining': 1 });
    gauge.record([]);
    expect(await values(metrics)).toEqual({});
    gauge.record(views);
    expect(Object.keys(await values(metrics))).toHaveLength(6);
    expect(await values(metrics)).toMatchObject({ 'resnet50/ready': 1, 'resnet50/probe-failing': 0 });
  });
});
