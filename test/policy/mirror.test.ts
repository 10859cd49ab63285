import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { validateCommand } from '../../src/cli/validate.ts';
import { resolvePolicyWithProvenance } from '../../src/policy/defaults.ts';
import { docWith, problems, validDoc } from './helpers.ts';

const SOURCE = { namespace: 'ml', configMap: 'cm', key: 'k', index: 0, createdAt: '2026-01-01T00:00:00Z' };
const TWO = [
  { name: 'stable', service: 'r-v1', port: 'grpc', version: '1', weight: 100 },
  { name: 'canary', service: 'r-v2', port: 'grpc', version: '2', weight: 0 },
];
const withMirror = (mirror: unknown, backends: unknown[] = TWO) => docWith({ backends, mirror });

describe('policy mirror', () => {
  it.each([
    ['integer percent', { backend: 'canary', percent: 10 }],
    ['decimal percent', { backend: 'canary', percent: 0.0001 }],
    ['100 percent', { backend: 'canary', percent: 100 }],
    ['the split backend itself', { backend: 'stable', percent: 5 }],
  ])('accepts %s', (_name, mirror) => {
    expect(problems(withMirror(mirror))).toEqual([]);
  });

  it('rejects a backend the policy does not have, listing the valid names', () => {
    expect(problems(withMirror({ backend: 'canry', percent: 10 }))).toEqual([
      'mirror.backend: must name one of this policy\'s backends ("stable", "canary"), got "canry"',
    ]);
  });

  it.each([0, -1, 100.5, 0.00001, '10'])('rejects percent %j', (percent) => {
    expect(problems(withMirror({ backend: 'canary', percent }))).toEqual([
      `mirror.percent: must be a number greater than 0 and at most 100 (up to 4 decimal places), got ${typeof percent === 'string' ? `"${percent}"` : percent}`,
    ]);
  });

  it('requires both fields and no others', () => {
    expect(problems(withMirror({ backend: 'canary' }))).toEqual(['mirror.percent: required: must be a number greater than 0 and at most 100 (up to 4 decimal places)']);
    expect(problems(withMirror({ percent: 5 })).join()).toContain('mirror.backend: required');
    expect(problems(withMirror({ backend: 'canary', percent: 5, cluster: 'x' })).join()).toContain('mirror');
  });

  it('rejects a weight-0 mirror backend without a version: no sidecar would ever load its cluster', () => {
    const backends = [TWO[0], { name: 'canary', service: 'r-v2', port: 'grpc', weight: 0 }];
    const found = problems(withMirror({ backend: 'canary', percent: 10 }, backends));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^mirror\.backend: backend "canary" has weight 0 and no version: .*on demand/);
  });

  it('resolves with provenance "policy", and is absent when not set', () => {
    const { policy, provenance } = resolvePolicyWithProvenance(validDoc(withMirror({ backend: 'canary', percent: 2.5 })), SOURCE);
    expect(policy.mirror).toEqual({ backend: 'canary', percent: 2.5 });
    expect(provenance).toMatchObject({ 'mirror.backend': 'policy', 'mirror.percent': 'policy' });
    const plain = resolvePolicyWithProvenance(validDoc(docWith({ backends: TWO })), SOURCE);
    expect(plain.policy.mirror).toBeUndefined();
    expect(Object.keys(plain.provenance).filter((key) => key.startsWith('mirror'))).toEqual([]);
  });
});

describe('infermesh validate with a mirror', () => {
  it('passes, warning per model that proxyless gRPC sends no copies and that a weight-0 backend loads only by a pin', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    const chunks: string[] = [];
    err.on('data', (chunk: Buffer) => chunks.push(chunk.toString()));
    expect(await validateCommand(['test/golden/cases/mirror/input'], out, err)).toBe(0);
    const warnings = chunks.join('').split('\n').filter((line) => line.startsWith('warning: '));
    expect(warnings.filter((line) => line.includes('mirror: applies in Envoy sidecars only')).map((line) => line.split(':')[1])).toEqual([' model ranker', ' model scorer']);
    expect(warnings.some((line) => line.startsWith('warning: model ranker: mirror: backend canary has weight 0'))).toBe(true);
  });
});
