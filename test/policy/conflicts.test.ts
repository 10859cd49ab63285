import { describe, expect, it } from 'vitest';
import type { ModelPolicy, PolicySource } from '../../src/model/types.ts';
import { formatPolicyError, resolveOwnership, resolvePolicy } from '../../src/policy/index.ts';
import { validDoc } from './helpers.ts';

function policy(model: string, aliases: string[], source: Partial<PolicySource>): ModelPolicy {
  const doc = validDoc({ model, aliases, backends: [{ name: 'a', service: 'svc', port: 'grpc' }] });
  return resolvePolicy(doc, { namespace: 'ml', configMap: 'cm', key: 'policy.yaml', index: 0, createdAt: '2025-01-01T00:00:00Z', ...source });
}

const OLD = '2024-01-01T00:00:00Z';
const NEW = '2025-06-01T00:00:00Z';

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

describe('resolveOwnership', () => {
  it('keeps every policy when no names collide, sorted by model', () => {
    const b = policy('beta', ['b'], { configMap: 'b' });
    const a = policy('alpha', ['a'], { configMap: 'a' });
    expect(resolveOwnership([b, a])).toEqual({ winners: [a, b], conflicts: [] });
  });

  it('gives a contested model to the older ConfigMap and reports the newer, whatever the input order', () => {
    const older = policy('resnet50', [], { configMap: 'old-policy', createdAt: OLD });
    const newer = policy('resnet50', [], { configMap: 'new-policy', createdAt: NEW });
    for (const input of [[older, newer], [newer, older]]) {
      const { winners, conflicts } = resolveOwnership(input);
      expect(winners).toEqual([older]);
      expect(conflicts).toEqual([
        {
          namespace: 'ml',
          configMap: 'new-policy',
          key: 'policy.yaml',
          index: 0,
          model: 'resnet50',
          path: 'model',
          kind: 'conflict',
          message: `"resnet50" is already claimed by older ml/old-policy key "policy.yaml" [doc 0] (as model, created ${OLD}); this policy is ignored until one of them gives up the name`,
        },
      ]);
    }
  });

  it('compares creation times as instants, not as text', () => {
    const older = policy('m', [], { configMap: 'z', createdAt: '2025-01-01T10:00:00+02:00' });
    const newer = policy('m', [], { configMap: 'a', createdAt: '2025-01-01T09:00:00Z' });
    expect(resolveOwnership([newer, older]).winners).toEqual([older]);
  });

  it.each([
    ['newer alias = older model', ['resnet50', []], ['resnet', ['resnet50']], 'aliases[0]', 'as model'],
    ['newer model = older alias', ['resnet', ['resnet50']], ['resnet50', []], 'model', 'as an alias of model "resnet"'],
    ['alias = alias', ['resnet50', ['rn']], ['resnet', ['x', 'rn']], 'aliases[1]', 'as an alias of model "resnet50"'],
  ])('treats %s as a conflict', (_, [oldModel, oldAliases], [newModel, newAliases], path, role) => {
    const older = policy(oldModel as string, oldAliases as string[], { configMap: 'old', createdAt: OLD });
    const newer = policy(newModel as string, newAliases as string[], { configMap: 'new', createdAt: NEW });
    const { winners, conflicts } = resolveOwnership([newer, older]);
    expect(winners).toEqual([older]);
    expect(conflicts.map((c) => [c.configMap, c.model, c.path])).toEqual([['new', newModel, path]]);
    expect(conflicts[0]?.message).toContain(`ml/old key "policy.yaml" [doc 0] (${role}`);
  });

  it('reports each contested name of a loser, and a loser claims nothing', () => {
    const owner = policy('resnet50', ['rn'], { configMap: 'owner', createdAt: OLD });
    const loser = policy('resnet50', ['rn', 'spare'], { configMap: 'loser', createdAt: NEW });
    const third = policy('spare', [], { configMap: 'third', createdAt: '2026-01-01T00:00:00Z' });
    const { winners, conflicts } = resolveOwnership([third, loser, owner]);
    expect(winners).toEqual([owner, third]);
    expect(conflicts.map((c) => `${c.configMap} ${c.path}`)).toEqual(['loser model', 'loser aliases[0]']);
  });

  it('breaks creation-time ties by namespace, ConfigMap, key and index, for any input order', () => {
    const same = { createdAt: OLD };
    const candidates = [
      policy('m', [], { ...same, namespace: 'b', configMap: 'a' }),
      policy('m', [], { ...same, namespace: 'a', configMap: 'b' }),
      policy('m', [], { ...same, namespace: 'a', configMap: 'a', key: 'z.yaml' }),
      policy('m', [], { ...same, namespace: 'a', configMap: 'a', key: 'a.yaml', index: 1 }),
      policy('m', [], { ...same, namespace: 'a', configMap: 'a', key: 'a.yaml', index: 0 }),
    ];
    const expected = resolveOwnership(candidates);
    expect(expected.winners.map((p) => p.source)).toEqual([candidates[4]?.source]);
    expect(expected.conflicts.map(formatPolicyError)[0]).toMatch(/^a\/a key "a.yaml" \[doc 1\] model: "m" is already claimed by older a\/a key "a.yaml" \[doc 0\]/);
    expect(expected.conflicts.map((c) => `${c.namespace}/${c.configMap}/${c.key}#${c.index}`)).toEqual([
      'a/a/a.yaml#1',
      'a/a/z.yaml#0',
      'a/b/policy.yaml#0',
      'b/a/policy.yaml#0',
    ]);
    for (const order of permutations(candidates)) expect(resolveOwnership(order)).toEqual(expected);
  });

  it('lets a ConfigMap of unknown age lose to one of known age', () => {
    const unknown = policy('m', [], { configMap: 'a', createdAt: 'not a date' });
    const known = policy('m', [], { configMap: 'b', createdAt: NEW });
    expect(resolveOwnership([unknown, known]).winners).toEqual([known]);
  });

  it('does not modify its input', () => {
    const input = [policy('b', [], { createdAt: NEW }), policy('a', [], { createdAt: OLD })];
    const copy = structuredClone(input);
    resolveOwnership(input);
    expect(input).toEqual(copy);
  });
});
