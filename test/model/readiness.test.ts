import { describe, expect, it } from 'vitest';
import { ProbeTargets, applyReadiness } from '../../src/model/readiness.ts';
import type { Endpoint, ModelReadinessState } from '../../src/model/types.ts';
import { modelRefKey, type ModelRef, type ReadinessSource } from '../../src/probe/types.ts';
import { testPolicy } from '../support/models.ts';

/** Answers as a prober would, from a table: "address model[\0version]" -> state. */
function answers(table: Record<string, ModelReadinessState>): ReadinessSource {
  return {
    lookup: (address, port, ref) => {
      const state = table[`${address}:${port} ${modelRefKey(ref)}`];
      return state && { state, reason: `said ${state}` };
    },
    subscribe: () => () => {},
    setTargets: () => {},
    close: () => {},
  };
}

const endpoint = (address: string, health: Endpoint['health'] = 'healthy'): Endpoint => ({ address, port: 8001, health });
const policy = testPolicy({ server: 'triton' });
const ports = new Map([['10.0.0.1', 8000], ['10.0.0.2', 8000], ['10.0.0.3', 8000]]);
const ref: ModelRef = { model: 'resnet50', version: '1' };
const key = (address: string) => `${address}:8000 resnet50\u00001`;

describe('applyReadiness', () => {
  it('makes a pod that does not have the model ready unhealthy, with the server\'s reason; unanswered pods route by pod readiness', () => {
    const endpoints = [endpoint('10.0.0.1'), endpoint('10.0.0.2'), endpoint('10.0.0.3')];
    const source = answers({ [key('10.0.0.1')]: 'ready', [key('10.0.0.2')]: 'not-loaded' });
    const { endpoints: out, warning } = applyReadiness(policy, ref, endpoints, ports, source);
    expect(out.map((e) => [e.address, e.health, e.readiness?.state, e.readiness?.reason])).toEqual([
      ['10.0.0.1', 'healthy', 'ready', 'said ready'],
      ['10.0.0.2', 'unhealthy', 'not-loaded', 'said not-loaded'],
      ['10.0.0.3', 'healthy', undefined, undefined],
    ]);
    expect(out[1]?.probePort).toBe(8000);
    expect(warning).toBeUndefined();
  });

  it('loading and probe-failing pods get no traffic either, while some other pod answers', () => {
    const endpoints = [endpoint('10.0.0.1'), endpoint('10.0.0.2'), endpoint('10.0.0.3')];
    const source = answers({ [key('10.0.0.1')]: 'ready', [key('10.0.0.2')]: 'loading', [key('10.0.0.3')]: 'probe-failing' });
    expect(applyReadiness(policy, ref, endpoints, ports, source).endpoints.map((e) => e.health)).toEqual(['healthy', 'unhealthy', 'unhealthy']);
  });

  it('never worse than pod readiness: when every probe fails, all route as before, marked fallback, with a warning', () => {
    const endpoints = [endpoint('10.0.0.1'), endpoint('10.0.0.2'), endpoint('10.0.0.3', 'draining')];
    const source = answers({ [key('10.0.0.1')]: 'probe-failing', [key('10.0.0.2')]: 'probe-failing' });
    const { endpoints: out, warning } = applyReadiness(policy, ref, endpoints, ports, source);
    expect(out.map((e) => [e.health, e.readiness?.fallback])).toEqual([['healthy', true], ['healthy', true], ['draining', undefined]]);
    expect(warning).toMatch(/failed on every endpoint \(said probe-failing\); routing by pod readiness/);
  });

  it('no flap while probes are blocked: the first pods to fail keep pod readiness while the others are unanswered', () => {
    const endpoints = [endpoint('10.0.0.1'), endpoint('10.0.0.2')];
    const { endpoints: out } = applyReadiness(policy, ref, endpoints, ports, answers({ [key('10.0.0.1')]: 'probe-failing' }));
    expect(out.map((e) => [e.health, e.readiness?.fallback])).toEqual([['healthy', true], ['healthy', undefined]]);
  });

  it('returns the same endpoint objects while nothing the servers say changes, new ones when it does', () => {
    const endpoints = [endpoint('10.0.0.1'), endpoint('10.0.0.2')];
    const table: Record<string, ModelReadinessState> = { [key('10.0.0.1')]: 'ready', [key('10.0.0.2')]: 'ready' };
    const first = applyReadiness(policy, ref, endpoints, ports, answers(table)).endpoints;
    expect(applyReadiness(policy, ref, endpoints, ports, answers({ ...table })).endpoints).toBe(first);
    table[key('10.0.0.2')] = 'not-loaded';
    expect(applyReadiness(policy, ref, endpoints, ports, answers(table)).endpoints).not.toBe(first);
  });
});

describe('ProbeTargets', () => {
  it('one target per pod and server, listing every model and version routed to it; draining pods and generic servers are not probed', () => {
    const targets = new ProbeTargets();
    const endpoints = [endpoint('10.0.0.1'), endpoint('10.0.0.2', 'draining')];
    targets.add(policy, { model: 'resnet50', version: '1' }, endpoints, ports);
    targets.add(policy, { model: 'resnet50', version: '2' }, endpoints, ports);
    targets.add(testPolicy({ model: 'bert', server: 'triton' }), { model: 'bert' }, endpoints, ports);
    targets.add(testPolicy({ model: 'plain', server: 'generic', probe: { enabled: false, port: 'http' } }), { model: 'plain' }, endpoints, ports);
    targets.add(testPolicy({ model: 'off', server: 'triton', probe: { enabled: false, port: 'http' } }), { model: 'off' }, endpoints, ports);
    expect(targets.list()).toEqual([
      { server: 'triton', address: '10.0.0.1', port: 8000, models: [{ model: 'resnet50', version: '1' }, { model: 'resnet50', version: '2' }, { model: 'bert' }] },
    ]);
  });
});
