import { describe, expect, it } from 'vitest';
import { EMPTY_LAST_GOOD, reconcileWorld, type LastGood } from '../../src/controller/reconcile.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { DEFAULT_SETTINGS } from '../../src/model/types.ts';
import { assembleSnapshot } from '../../src/snapshot/assemble.ts';
import { ResourceCodec } from '../../src/snapshot/codec.ts';
import type { EncodedModel } from '../../src/snapshot/encode-model.ts';
import { versionOf, type Snapshot } from '../../src/snapshot/snapshot.ts';
import type { ConfigMapObject, SourceWorld } from '../../src/sources/types.ts';
import { testSlice } from '../support/source-objects.ts';
import { fakeResource } from '../support/snapshots.ts';

const codec = new ResourceCodec(loadEnvoyProtos());

function policy(model: string, weights: [number, number] = [90, 10]): ConfigMapObject {
  const yaml = `model: ${model}\nbackends:\n  - { name: stable, service: ${model}-s, port: grpc, weight: ${weights[0]} }\n  - { name: canary, service: ${model}-c, port: grpc, weight: ${weights[1]} }\n`;
  return { namespace: 'ml', name: `${model}-policy`, labels: { 'infermesh.io/policy': 'true' }, data: { 'policy.yaml': yaml }, creationTimestamp: '2026-01-01T00:00:00Z', origin: 'test' };
}

const MODELS = ['a', 'b', 'c'];

/** Reconciles and assembles like the controller does, one generation per call. */
class Pipeline {
  world: SourceWorld = {
    configMaps: MODELS.map((m) => policy(m)),
    endpointSlices: MODELS.flatMap((m, i) => [testSlice(`${m}-s`, [`10.0.${i}.1`]), testSlice(`${m}-c`, [`10.0.${i}.2`])]),
    readErrors: [],
  };
  #lastGood: LastGood = EMPTY_LAST_GOOD;
  #sequence = 0;
  encoded: EncodedModel[] = [];

  publish(): Snapshot {
    const result = reconcileWorld({ ...this.world, configMaps: [...this.world.configMaps], endpointSlices: [...this.world.endpointSlices] }, this.#lastGood, codec, DEFAULT_SETTINGS);
    this.#sequence += 1;
    const assembled = assembleSnapshot(result.encoded, DEFAULT_SETTINGS, codec, this.#sequence);
    if (!assembled.ok) throw new Error(assembled.problems.join('; '));
    codec.endGeneration();
    this.#lastGood = result.lastGood;
    this.encoded = result.encoded;
    return assembled.snapshot;
  }
}

const byModel = (encoded: EncodedModel[]) => new Map(encoded.map((m) => [m.model, m]));

describe('a rebuild does only what changed', () => {
  it('a one-model policy change rebuilds that model alone; the sequence is the publisher\'s, the version a digest of the content', () => {
    const pipeline = new Pipeline();
    const first = pipeline.publish();
    const before = byModel(pipeline.encoded);
    pipeline.world.configMaps[0] = policy('a', [50, 50]);
    const second = pipeline.publish();
    const after = byModel(pipeline.encoded);
    expect([first.sequence, second.sequence]).toEqual([1, 2]);
    expect(first.version).toMatch(/^[0-9a-f]{16}$/);
    expect(second.version).not.toBe(first.version);
    expect(after.get('a')).not.toBe(before.get('a'));
    for (const model of ['b', 'c']) expect(after.get(model), model).toBe(before.get(model));
    for (const kind of ['cluster', 'endpoint', 'listener'] as const) {
      for (const [name, resource] of first.resources(kind)) {
        if (name.includes('|a|')) continue;
        expect(second.resources(kind).get(name), `${kind} ${name}`).toBe(resource);
      }
    }
    expect(second.typeVersion('route')).not.toBe(first.typeVersion('route'));
    expect(second.typeVersion('cluster')).toBe(first.typeVersion('cluster'));
    expect(second.typeVersion('endpoint')).toBe(first.typeVersion('endpoint'));
    expect(second.typeVersion('listener')).toBe(first.typeVersion('listener'));
    // The same content under another sequence (as on another replica, or after a restart): the same version.
    pipeline.world.configMaps[0] = policy('a');
    const third = pipeline.publish();
    expect([third.sequence, third.version]).toEqual([3, first.version]);
  });

  it('endpoint churn changes only endpoints: the route tables are the same resources, not written again', () => {
    const pipeline = new Pipeline();
    const first = pipeline.publish();
    pipeline.world.endpointSlices[2] = testSlice('b-s', ['10.0.1.1', '10.0.1.9']);
    const second = pipeline.publish();
    for (const kind of ['cluster', 'route', 'listener'] as const) {
      expect(second.typeVersion(kind), kind).toBe(first.typeVersion(kind));
      for (const [name, resource] of first.resources(kind)) expect(second.resources(kind).get(name), `${kind} ${name}`).toBe(resource);
    }
    const changed = [...second.resources('endpoint')].filter(([name, resource]) => first.resources('endpoint').get(name) !== resource).map(([name]) => name);
    expect(changed).toEqual(['infermesh|b|stable']);
    expect(second.typeVersion('endpoint')).not.toBe(first.typeVersion('endpoint'));
  });

  it('a backend losing its last healthy endpoint changes the routes (the split leaves it out), and nothing else of other models', () => {
    const pipeline = new Pipeline();
    const first = pipeline.publish();
    const before = byModel(pipeline.encoded);
    pipeline.world.endpointSlices[3] = testSlice('b-c', []);
    const second = pipeline.publish();
    const after = byModel(pipeline.encoded);
    expect(second.typeVersion('route')).not.toBe(first.typeVersion('route'));
    expect(after.get('b')?.fingerprint).not.toBe(before.get('b')?.fingerprint);
    expect(after.get('b')?.clusters).toEqual(before.get('b')?.clusters);
    for (const model of ['a', 'c']) expect(after.get(model), model).toBe(before.get(model));
    pipeline.world.endpointSlices[3] = testSlice('b-c', ['10.0.1.2']);
    const third = pipeline.publish();
    for (const kind of ['cluster', 'endpoint', 'route', 'listener'] as const) expect(third.typeVersion(kind), kind).toBe(first.typeVersion(kind));
    expect(byModel(pipeline.encoded).get('b')?.fingerprint).toBe(before.get('b')?.fingerprint);
  });

  it('a change and its undo give back the first versions (the same input gives the same versions)', () => {
    const pipeline = new Pipeline();
    const first = pipeline.publish();
    pipeline.world.configMaps[1] = policy('b', [10, 90]);
    pipeline.publish();
    pipeline.world.configMaps[1] = policy('b');
    const third = pipeline.publish();
    for (const kind of ['cluster', 'endpoint', 'route', 'listener'] as const) expect(third.typeVersion(kind), kind).toBe(first.typeVersion(kind));
    expect(third.resources('route').get('infermesh')?.any).toEqual(first.resources('route').get('infermesh')?.any);
  });
});

describe('versionOf a set of resources', () => {
  const a = fakeResource('cluster', 'a', '1');
  const b = fakeResource('cluster', 'b', '1');
  it('does not depend on order, and changes when any (name, version) does', () => {
    expect(versionOf([a, b])).toBe(versionOf([b, a]));
    expect(versionOf([a, b])).not.toBe(versionOf([a, fakeResource('cluster', 'b', '2')]));
    expect(versionOf([a, b])).not.toBe(versionOf([a]));
    expect(versionOf([a])).not.toBe(versionOf([fakeResource('cluster', 'a2', '1')]));
    expect(versionOf([])).toBe('empty');
  });
});
