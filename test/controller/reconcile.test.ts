import { beforeAll, describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld, type LastGood } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { ConfigMapObject, EndpointSliceObject, SourceWorld } from '../../src/sources/types.ts';
import { testSlice } from '../support/source-objects.ts';

let codec: ResourceCodec;
beforeAll(() => {
  codec = new ResourceCodec(loadEnvoyProtos());
});

function policyMap(name: string, data: Record<string, string>, createdAt = '2026-01-01T00:00:00Z'): ConfigMapObject {
  return { namespace: 'ml', name, labels: { 'infermesh.io/policy': 'true' }, data, creationTimestamp: createdAt, origin: 'test' };
}

function world(configMaps: ConfigMapObject[], endpointSlices: EndpointSliceObject[] = [testSlice('a', ['10.0.0.1']), testSlice('b', ['10.0.0.2'])]): SourceWorld {
  return { configMaps, endpointSlices, readErrors: [] };
}

const modelA = (weight = 1) => `model: a\nbackends: [{ name: main, service: a, port: grpc, weight: ${weight} }]\n`;
const modelB = 'model: b\nbackends: [{ name: main, service: b, port: grpc }]\n';

function states(result: ReturnType<typeof reconcileWorld>): Record<string, string> {
  return Object.fromEntries(result.statuses.map((s) => [s.model, s.state]));
}

describe('reconcileWorld', () => {
  it('serves every valid model', () => {
    const result = reconcileWorld(world([policyMap('pa', { 'p.yaml': modelA() }), policyMap('pb', { 'p.yaml': modelB })]), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    expect(states(result)).toEqual({ a: 'serving', b: 'serving' });
    expect(result.encoded.map((m) => m.model)).toEqual(['a', 'b']);
  });

  it('rejects a bad model that never served, leaving the others untouched', () => {
    const result = reconcileWorld(world([policyMap('pa', { 'p.yaml': 'model: a\nbackends: []\n' }), policyMap('pb', { 'p.yaml': modelB })]), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    expect(result.encoded.map((m) => m.model)).toEqual(['b']);
    expect(result.statuses.find((s) => s.state === 'rejected')?.problems.join()).toContain('backends');
  });

  it('keeps the last good version of a model whose document breaks, even when the model name itself breaks', () => {
    const first = reconcileWorld(world([policyMap('pa', { 'p.yaml': modelA(1) })]), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    const broken = reconcileWorld(world([policyMap('pa', { 'p.yaml': 'model: "bad name!"\nbackends: [{ name: main, service: a, port: grpc }]\n' })]), first.lastGood, codec, DEFAULT_SETTINGS);
    expect(states(broken)).toEqual({ a: 'stale' });
    expect(broken.encoded[0]).toEqual(first.encoded[0]);
    const fixed = reconcileWorld(world([policyMap('pa', { 'p.yaml': modelA(1) })]), broken.lastGood, codec, DEFAULT_SETTINGS);
    expect(states(fixed)).toEqual({ a: 'serving' });
  });

  it('keeps every document of a key whose YAML no longer parses', () => {
    const both = `- ${modelA().replace('\n', '\n  ')}- ${modelB.replace('\n', '\n  ')}`;
    const first = reconcileWorld(world([policyMap('p', { 'p.yaml': both })]), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    expect(states(first)).toEqual({ a: 'serving', b: 'serving' });
    const broken = reconcileWorld(world([policyMap('p', { 'p.yaml': '- model: [unclosed\n' })]), first.lastGood, codec, DEFAULT_SETTINGS);
    expect(states(broken)).toEqual({ a: 'stale', b: 'stale' });
  });

  it('drops a model whose ConfigMap is deleted (that is not an error)', () => {
    const first = reconcileWorld(world([policyMap('pa', { 'p.yaml': modelA() })]), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    const gone = reconcileWorld(world([]), first.lastGood, codec, DEFAULT_SETTINGS);
    expect(gone.statuses).toEqual([]);
    expect(gone.encoded).toEqual([]);
  });

  it('lets the older ConfigMap win a model name and reports the newer as a conflict', () => {
    const result = reconcileWorld(
      world([policyMap('newer', { 'p.yaml': modelA() }, '2026-05-01T00:00:00Z'), policyMap('older', { 'p.yaml': 'model: a\nbackends: [{ name: main, service: b, port: grpc }]\n' }, '2026-01-01T00:00:00Z')]),
      EMPTY_LAST_GOOD,
      codec,
      DEFAULT_SETTINGS,
    );
    expect(result.statuses.map((s) => [s.model, s.state, s.source?.configMap])).toEqual([
      ['a', 'serving', 'older'],
      ['a', 'conflict', 'newer'],
    ]);
  });

  it('skips endpoint addresses that are not IPs with a warning instead of failing the model', () => {
    const result = reconcileWorld(world([policyMap('pa', { 'p.yaml': modelA() })], [testSlice('a', ['10.0.0.1', 'not-an-ip'])]), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    expect(states(result)).toEqual({ a: 'serving' });
    expect(result.warnings[0]?.message).toContain('not-an-ip');
  });

  it('keeps the last good resources when the Envoy resources fail validation', () => {
    const first = reconcileWorld(world([policyMap('pa', { 'p.yaml': modelA() })]), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    // A header name Envoy's HTTP_HEADER_NAME rule refuses: every route of every model fails validation.
    const badSettings = { ...DEFAULT_SETTINGS, modelHeader: 'x\nmodel' };
    const second = reconcileWorld(world([policyMap('pa', { 'p.yaml': modelA(2) })]), first.lastGood, codec, badSettings);
    expect(states(second)).toEqual({ a: 'stale' });
    expect(second.statuses[0]?.problems.join()).toMatch(/route a.*name/);
    expect(second.encoded[0]).toBe(first.encoded[0]);
  });

  it('keeps the last good version of every model of a ConfigMap left without .yaml keys', () => {
    const first = reconcileWorld(world([policyMap('pa', { 'a.yaml': modelA(1), 'b.yaml': modelB })]), EMPTY_LAST_GOOD, codec, DEFAULT_SETTINGS);
    const emptied = reconcileWorld(world([policyMap('pa', { 'notes.txt': 'moved' })]), first.lastGood, codec, DEFAULT_SETTINGS);
    expect(states(emptied)).toEqual({ a: 'stale', b: 'stale' });
    expect(emptied.encoded).toEqual(first.encoded);
    expect(emptied.policyErrors.map((e) => e.message).join()).toContain('needs data keys ending in .yaml or .yml');
    // Removing one key of several is an edit like any other: that model goes.
    const fewer = reconcileWorld(world([policyMap('pa', { 'a.yaml': modelA(1) })]), emptied.lastGood, codec, DEFAULT_SETTINGS);
    expect(states(fewer)).toEqual({ a: 'serving' });
  });

  it('starts from nothing: an empty last-good never invents models', () => {
    const empty: LastGood = EMPTY_LAST_GOOD;
    expect(reconcileWorld(world([]), empty, codec, DEFAULT_SETTINGS).encoded).toEqual([]);
  });
});
