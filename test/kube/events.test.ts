import type * as k8s from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { EventSink } from '../../src/kube/event-sink.ts';
import { PolicyEventRecorder } from '../../src/kube/events.ts';
import { silentLogger } from '../../src/logging/logger.ts';
import type { PolicyError } from '../../src/policy/index.ts';
import type { ConfigMapObject } from '../../src/sources/types.ts';

function recordingSink(failWith?: Error) {
  const created: k8s.CoreV1Event[] = [];
  const repeated: { name: string; count: number }[] = [];
  const sink: EventSink = {
    async create(_namespace, event) {
      if (failWith) throw failWith;
      created.push(event);
    },
    async repeat(_namespace, name, count) {
      repeated.push({ name, count });
    },
  };
  return { sink, created, repeated };
}

const cm: ConfigMapObject = { namespace: 'ml', name: 'p', labels: { 'infermesh.io/policy': 'true' }, data: {}, creationTimestamp: '', uid: 'uid-1', origin: 't' };
const error = (path: string, kind: PolicyError['kind'] = 'invalid'): PolicyError => ({ namespace: 'ml', configMap: 'p', key: 'policy.yaml', index: 0, path, message: `bad ${path}`, kind });

function recorder(sink: EventSink, options: { leader?: () => boolean; burst?: number } = {}) {
  let clock = 0;
  const outcomes: string[] = [];
  const r = new PolicyEventRecorder({
    sink,
    isLeader: options.leader ?? (() => true),
    logger: silentLogger(),
    instance: 'pod-0',
    now: () => new Date(clock),
    rateLimit: { burst: options.burst ?? 10, perSecond: 1 },
    onOutcome: (o) => outcomes.push(o),
  });
  return { r, outcomes, tick: (ms: number) => (clock += ms) };
}

describe('PolicyEventRecorder', () => {
  it('writes one Warning per new problem on the ConfigMap, naming key and field, and nothing while it persists', async () => {
    const { sink, created } = recordingSink();
    const { r } = recorder(sink);
    await r.observe([cm], [error('timeout'), error('model', 'conflict')]);
    await r.observe([cm], [error('timeout'), error('model', 'conflict')]);
    expect(created.map((e) => [e.type, e.reason, e.message])).toEqual([
      ['Warning', 'PolicyRejected', 'key "policy.yaml" [doc 0] timeout: bad timeout'],
      ['Warning', 'PolicyConflict', 'key "policy.yaml" [doc 0] model: bad model'],
    ]);
    expect(created[0]?.involvedObject).toEqual({ apiVersion: 'v1', kind: 'ConfigMap', name: 'p', namespace: 'ml', uid: 'uid-1' });
  });

  it('writes a Normal event when the ConfigMap becomes valid again, and bumps the count when a problem returns', async () => {
    const { sink, created, repeated } = recordingSink();
    const { r } = recorder(sink);
    await r.observe([cm], [error('timeout')]);
    await r.observe([cm], []);
    await r.observe([cm], [error('timeout')]);
    expect(created.map((e) => e.reason)).toEqual(['PolicyRejected', 'PolicyAccepted']);
    expect(repeated).toEqual([{ name: created[0]?.metadata?.name, count: 2 }]);
  });

  it('lets only the leader write, and a new leader does not repeat what was already known', async () => {
    const { sink, created } = recordingSink();
    let leader = false;
    const { r } = recorder(sink, { leader: () => leader });
    await r.observe([cm], [error('timeout')]);
    expect(created).toEqual([]);
    leader = true;
    await r.observe([cm], [error('timeout'), error('retries')]);
    expect(created.map((e) => e.message)).toEqual(['key "policy.yaml" [doc 0] retries: bad retries']);
  });

  it('rate-limits, and retries a dropped event on a later reconcile', async () => {
    const { sink, created } = recordingSink();
    const { r, outcomes, tick } = recorder(sink, { burst: 1 });
    await r.observe([cm], [error('a'), error('b')]);
    expect(created).toHaveLength(1);
    expect([...outcomes].sort()).toEqual(['dropped', 'written']);
    tick(1_000);
    await r.observe([cm], [error('a'), error('b')]);
    expect(created.map((e) => e.message)).toEqual(['key "policy.yaml" [doc 0] a: bad a', 'key "policy.yaml" [doc 0] b: bad b']);
  });

  it('survives a failing API: counts the failure and tries again next time', async () => {
    const failing = recordingSink(new Error('403 forbidden'));
    const { r, outcomes } = recorder(failing.sink);
    await expect(r.observe([cm], [error('timeout')])).resolves.toBeUndefined();
    await r.observe([cm], [error('timeout')]);
    expect(outcomes).toEqual(['failed', 'failed']);
  });
});
