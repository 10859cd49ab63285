import { describe, expect, it } from 'vitest';
import {
  BUILTIN_DEFAULTS,
  formatPolicyError,
  isPolicyConfigMap,
  parsePolicyConfigMap,
  parsePolicyConfigMapWithDefaults,
  POLICY_LABEL,
  type PolicyError,
} from '../../src/policy/index.ts';
import { configMap } from './helpers.ts';

const RESNET = `model: resnet50
backends:
  - name: stable
    service: resnet50-triton
    port: grpc
`;

describe('isPolicyConfigMap', () => {
  it.each([
    [{ [POLICY_LABEL]: 'true' }, true],
    [{ [POLICY_LABEL]: 'True' }, false],
    [{ [POLICY_LABEL]: '1' }, false],
    [{ [POLICY_LABEL]: 'false' }, false],
    [{ other: 'true' }, false],
    [{}, false],
  ])('%j -> %s', (labels, expected) => {
    expect(isPolicyConfigMap({ labels })).toBe(expected);
  });
});

describe('parsePolicyConfigMap', () => {
  it('resolves one document with its source', () => {
    const { policies, errors } = parsePolicyConfigMap(configMap({ 'policy.yaml': RESNET }));
    expect(errors).toEqual([]);
    expect(policies).toHaveLength(1);
    expect(policies[0]?.model).toBe('resnet50');
    expect(policies[0]?.timeoutMs).toBe(BUILTIN_DEFAULTS.timeout);
    expect(policies[0]?.backends).toEqual([{ name: 'stable', service: 'resnet50-triton', port: 'grpc', weight: 1 }]);
    expect(policies[0]?.source).toEqual({
      namespace: 'default',
      configMap: 'resnet50-policy',
      key: 'policy.yaml',
      index: 0,
      createdAt: '2025-01-01T00:00:00Z',
      resourceVersion: '42',
    });
  });

  it('reads .yaml and .yml keys in key order and ignores other keys', () => {
    const cm = configMap({
      'z.yml': RESNET.replace('resnet50', 'zeta'),
      'README.md': 'model: not-a-policy',
      'a.yaml': RESNET.replace('resnet50', 'alpha'),
      'notes.txt': '::: not yaml',
    });
    const { policies, errors } = parsePolicyConfigMap(cm);
    expect(errors).toEqual([]);
    expect(policies.map((p) => `${p.source.key}:${p.model}`)).toEqual(['a.yaml:alpha', 'z.yml:zeta']);
  });

  it('is safe to pass straight to Array.map', () => {
    const results = [configMap({ 'a.yaml': RESNET })].map(parsePolicyConfigMap);
    expect(results[0]?.policies).toHaveLength(1);
  });

  it('rejects a policy ConfigMap without .yaml keys, naming the keys it has', () => {
    expect(parsePolicyConfigMap(configMap({ 'policy.json': '{}', 'README': 'x' })).errors).toEqual([
      {
        namespace: 'default',
        configMap: 'resnet50-policy',
        key: '',
        path: '',
        kind: 'invalid',
        message: 'no policy documents: a ConfigMap labelled infermesh.io/policy: "true" needs data keys ending in .yaml or .yml, but its keys are "README", "policy.json"',
      },
    ]);
    expect(parsePolicyConfigMap(configMap({})).errors[0]?.message).toContain('but it has no data keys');
  });

  it.each([
    ['empty', ''],
    ['a comment', '# nothing yet\n'],
    ['an empty list', '[]\n'],
  ])('rejects a key that is %s', (_, text) => {
    const { policies, errors } = parsePolicyConfigMap(configMap({ 'policy.yaml': text }));
    expect(policies).toEqual([]);
    expect(errors.map(formatPolicyError)).toEqual([
      'default/resnet50-policy key "policy.yaml": holds no policy document: expected a mapping with model and backends, or a list of them',
    ]);
  });
});

describe('YAML lists and streams', () => {
  const list = `- model: alpha
  backends: [{ name: a, service: alpha, port: grpc }]
- model: beta
  backends: [{ name: b, service: beta, port: 0 }]
- model: gamma
  backends: [{ name: c, service: gamma, port: grpc }]
`;

  it('accepts the good documents of a list and rejects only the bad one', () => {
    const { policies, errors } = parsePolicyConfigMap(configMap({ 'models.yaml': list }));
    expect(policies.map((p) => [p.model, p.source.index])).toEqual([
      ['alpha', 0],
      ['gamma', 2],
    ]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ key: 'models.yaml', index: 1, model: 'beta', path: 'backends[0].port', kind: 'invalid', line: 4, column: 46 });
  });

  it('accepts ---separated documents, numbering them in order', () => {
    const stream = `${RESNET}---\n${list}`;
    const { policies } = parsePolicyConfigMap(configMap({ 'models.yaml': stream }));
    expect(policies.map((p) => [p.model, p.source.index])).toEqual([
      ['resnet50', 0],
      ['alpha', 1],
      ['gamma', 3],
    ]);
  });

  it('reports a list item that is not a mapping', () => {
    const { errors } = parsePolicyConfigMap(configMap({ 'models.yaml': `${list}- resnet50\n` }));
    expect(errors.map((e) => [e.index, e.path, e.message.slice(0, 29)])).toContainEqual([3, '', 'must be a mapping with fields']);
  });
});

describe('error locations and YAML syntax', () => {
  it('reports a syntax error with its line and column, and keeps other keys', () => {
    const broken = 'model: resnet50\nbackends:\n  - name: a\n    service: "unterminated\n';
    const { policies, errors } = parsePolicyConfigMap(configMap({ 'a.yaml': broken, 'b.yaml': RESNET }));
    expect(policies.map((p) => p.source.key)).toEqual(['b.yaml']);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ key: 'a.yaml', kind: 'yaml', path: '', line: 5, column: 1 });
    expect(errors[0]?.index).toBeUndefined();
    expect(formatPolicyError(errors[0] as PolicyError)).toBe('default/resnet50-policy key "a.yaml": YAML syntax error: Missing closing "quote (line 5, column 1)');
  });

  it.each([
    ['a duplicate key', `${RESNET}model: other\n`, 'YAML syntax error: Map keys must be unique', 6],
    ['bad indentation', 'model: a\n  backends: []\n', 'YAML syntax error: Nested mappings are not allowed in compact mappings', 1],
    ['an unknown tag', `${RESNET}timeout: !secret 5s\n`, 'YAML syntax error: Unresolved tag: !secret', 6],
    ['an undefined alias', `${RESNET}timeout: *t\n`, 'YAML error: Unresolved alias', 1],
  ])('reports %s as a YAML error', (_, text, message, line) => {
    const { policies, errors } = parsePolicyConfigMap(configMap({ 'policy.yaml': text }));
    expect(policies).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.kind).toBe('yaml');
    expect(errors[0]?.message).toContain(message);
    expect(errors[0]?.message).not.toContain('\n');
    expect(errors[0]?.line).toBe(line);
  });

  it('points at the bad value, at an unknown key, and at the mapping lacking a field, in reading order', () => {
    const text = `model: resnet50
backends:
  - name: stable
    port: grpc
timeout: 5
retries:
  atempts: 3
`;
    const { errors } = parsePolicyConfigMap(configMap({ 'policy.yaml': text }));
    expect(errors.map((e) => [e.path, e.line, e.column])).toEqual([
      ['backends[0].service', 3, 5],
      ['timeout', 5, 10],
      ['retries.atempts', 7, 3],
    ]);
  });

  it('lists problems by position, not by the order the schema finds them', () => {
    const text = `fooBar: 1\nmodel: resnet50\nbackends: [{ name: a, service: s, port: grpc }]\ntimeout: x\n`;
    const { errors } = parsePolicyConfigMap(configMap({ 'policy.yaml': text }));
    expect(errors.map((e) => `${e.line}:${e.path}`)).toEqual(['1:fooBar', '4:timeout']);
  });

  it('names the model of an invalid document only when it is a valid name', () => {
    const docs = `- { model: resnet50, backends: [] }\n- { model: "a|b", backends: [] }\n- { backends: [] }\n`;
    const { errors } = parsePolicyConfigMap(configMap({ 'policy.yaml': docs }));
    expect(errors.map((e) => [e.index, e.model])).toEqual([
      [0, 'resnet50'],
      [1, undefined],
      [1, undefined],
      [2, undefined],
      [2, undefined],
    ]);
  });

  it('formats errors on one line, with control characters escaped', () => {
    const { errors } = parsePolicyConfigMap(configMap({ 'policy.yaml': 'model: "resnet\\nx-evil: 1"\nbackends: [{ name: a, service: s, port: 1 }]\n' }));
    const text = errors.map(formatPolicyError);
    expect(text).toEqual([
      'default/resnet50-policy key "policy.yaml" [doc 0] model: must be a model name (1-253 letters, digits or . _ : / -, starting with a letter or digit), got "resnet\\nx-evil: 1" (line 1, column 8)',
    ]);
  });
});

describe('formatPolicyError', () => {
  const base: PolicyError = { namespace: 'default', configMap: 'resnet50-policy', key: 'policy.yaml', path: '', message: 'm', kind: 'invalid' };
  it.each([
    [{ index: 0, path: 'backends[1].weight', message: 'must be an integer >= 0, got -3' }, 'default/resnet50-policy key "policy.yaml" [doc 0] backends[1].weight: must be an integer >= 0, got -3'],
    [{ index: 2 }, 'default/resnet50-policy key "policy.yaml" [doc 2]: m'],
    [{ key: '' }, 'default/resnet50-policy: m'],
    [{ line: 3, column: 7 }, 'default/resnet50-policy key "policy.yaml": m (line 3, column 7)'],
    [{ key: 'we"ird\n.yaml' }, 'default/resnet50-policy key "we\\"ird\\n.yaml": m'],
  ])('%j', (patch, expected) => {
    expect(formatPolicyError({ ...base, ...patch })).toBe(expected);
  });
});

describe('parsePolicyConfigMapWithDefaults', () => {
  it('applies defaults layers under each document', () => {
    const layers = [{ name: 'namespace/default', values: { timeout: 5_000, protocol: 'http' as const } }];
    const { policies } = parsePolicyConfigMapWithDefaults(configMap({ 'policy.yaml': `${RESNET}protocol: grpc\n` }), layers);
    expect(policies[0]?.timeoutMs).toBe(5_000);
    expect(policies[0]?.protocol).toBe('grpc');
  });
});
