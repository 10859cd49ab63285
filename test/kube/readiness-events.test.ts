import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { EventSink } from '../../src/kube/event-sink.ts';
import { PolicyEventRecorder } from '../../src/kube/events.ts';
import { ReadinessEventRecorder } from '../../src/kube/readiness-events.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import type { Endpoint, Model } from '../../src/model/types.ts';
import type { ConfigMapObject } from '../../src/sources/types.ts';
import { testModel, testPolicy } from '../support/models.ts';

const cm: ConfigMapObject = { namespace: 'models', name: 'resnet50-policy', labels: { 'infermesh.io/policy': 'true' }, data: {}, creationTimestamp: '', uid: 'uid-1', origin: 't' };
const ep = (address: string, extra: Partial<Endpoint> = {}): Endpoint => ({ address, port: 8001, health: 'healthy', ...extra });
const notLoaded = (address: string) => ep(address, { health: 'unhealthy', readiness: { state: 'not-loaded', reason: 'unknown model' } });
const probeFailing = (address: string) => ep(address, { health: 'unhealthy', readiness: { state: 'probe-failing', reason: 'timeout after 2s' } });
const policy = testPolicy({ backends: [{ name: 'stable', service: 'resnet50-triton', port: 'grpc', weight: 100 }] });
const model = (...endpoints: Endpoint[]): Model => testModel(policy, endpoints);

function setup(options: { leader?: () => boolean; fail?: () => boolean } = {}) {
  const created: k8s.CoreV1Event[] = [];
  const repeated: { name: string; count: number }[] = [];
  const sink: EventSink = {
    async create(_namespace, event) {
      if (options.fail?.()) throw new Error('forbidden');
      created.push(event);
    },
    async repeat(_namespace, name, count) {
      repeated.push({ name, count });
    },
  };
  const isLeader = options.leader ?? (() => true);
  const policyEvents = new PolicyEventRecorder({ sink, isLeader, logger: silentLogger(), instance: 'pod-0', rateLimit: { burst: 100, perSecond: 100 } });
  const recorder = new ReadinessEventRecorder({ report: (...args) => policyEvents.report(...args), isLeader });
  return { created, repeated, recorder, seen: () => created.map((e) => [e.type, e.reason, e.message]) };
}

describe('NoReadyEndpoints Events on the policy ConfigMap', () => {
  it('writes one Warning when a model loses its last ready endpoint, naming backend and why, and nothing while it stays so', async () => {
    const { created, repeated, recorder, seen } = setup();
    await recorder.observe([cm], [model(ep('10.0.0.1', { readiness: { state: 'ready' } }), notLoaded('10.0.0.2'))]);
    expect(created).toEqual([]);
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'), notLoaded('10.0.0.2'))]);
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'), notLoaded('10.0.0.2'))]);
    expect(seen()).toEqual([['Warning', 'NoReadyEndpoints', 'model resnet50 has no ready endpoints, its requests fail: backend stable (models/resnet50-triton:grpc): 2 not loaded (unknown model)']]);
    expect(created[0]?.involvedObject).toMatchObject({ kind: 'ConfigMap', namespace: 'models', name: 'resnet50-policy', uid: 'uid-1' });
    expect(created[0]?.action).toBe('Route');
    expect(repeated).toEqual([]);
  });

  it('writes a Normal EndpointsReady when the model has ready endpoints again, once', async () => {
    const { recorder, seen } = setup();
    await recorder.observe([cm], [model()]);
    await recorder.observe([cm], [model(ep('10.0.0.1', { readiness: { state: 'ready' } }))]);
    await recorder.observe([cm], [model(ep('10.0.0.1', { readiness: { state: 'ready' } }))]);
    expect(seen().map(([type, reason]) => `${type} ${reason}`)).toEqual(['Warning NoReadyEndpoints', 'Normal EndpointsReady']);
    expect(seen()[0]?.[2]).toContain('backend stable (models/resnet50-triton:grpc): no pods');
    expect(seen()[1]?.[2]).toBe('model resnet50 has 1 ready endpoint again');
  });

  it('says so when probing is part of the cause', async () => {
    const { recorder, seen } = setup();
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'), probeFailing('10.0.0.2'))]);
    expect(seen()[0]?.[2]).toContain('1 not loaded (unknown model), 1 probe failing (timeout after 2s)');
    expect(seen()[0]?.[2]).toContain('probing fails on some of its pods');
  });

  it('a backend routing by pod readiness after probing failed wholesale has ready endpoints: no Event', async () => {
    const { created, recorder } = setup();
    const fallback = { state: 'probe-failing' as const, reason: 'connection refused', fallback: true };
    await recorder.observe([cm], [model(ep('10.0.0.1', { readiness: fallback }), ep('10.0.0.2', { readiness: fallback }))]);
    expect(created).toEqual([]);
  });

  it('a follower writes nothing and, once leader, does not repeat what it has seen', async () => {
    let leader = false;
    const { created, recorder, seen } = setup({ leader: () => leader });
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'))]);
    leader = true;
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'))]);
    expect(created).toEqual([]);
    await recorder.observe([cm], [model(ep('10.0.0.1'))]);
    expect(seen().map(([, reason]) => reason)).toEqual(['EndpointsReady']);
  });

  it('retries an Event that could not be written on the next reconcile', async () => {
    let failing = true;
    const { recorder, seen } = setup({ fail: () => failing });
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'))]);
    expect(seen()).toEqual([]);
    failing = false;
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'))]);
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'))]);
    expect(seen().map(([, reason]) => reason)).toEqual(['NoReadyEndpoints']);
  });

  it('forgets a model that is no longer served, and reports it afresh when it returns without endpoints (the same Event, count 2)', async () => {
    const { created, repeated, recorder, seen } = setup();
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'))]);
    await recorder.observe([cm], []);
    await recorder.observe([cm], [model(notLoaded('10.0.0.1'))]);
    expect(seen().map(([, reason]) => reason)).toEqual(['NoReadyEndpoints']);
    expect(repeated).toEqual([{ name: created[0]?.metadata?.name, count: 2 }]);
  });
});
