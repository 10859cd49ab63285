import { describe, expect, it } from 'vitest';
import { parsePolicyConfigMap } from '../../src/policy/index.ts';
import { MAX_FLOW_DEPTH, MAX_TEXT_LENGTH, readYaml } from '../../src/policy/yaml.ts';
import type { ConfigMapObject } from '../../src/sources/types.ts';

function configMap(data: Record<string, string>): ConfigMapObject {
  return { namespace: 'ml', name: 'p', labels: { 'infermesh.io/policy': 'true' }, data, creationTimestamp: '2026-01-01T00:00:00Z', origin: 'test' };
}

const GOOD = 'model: a\nbackends: [{ name: main, service: a, port: grpc }]\n';

describe('policy YAML limits', () => {
  it('refuses text larger than a ConfigMap can hold, before parsing it', () => {
    const read = readYaml(`model: a\nx: "${'y'.repeat(MAX_TEXT_LENGTH)}"\n`);
    expect(read.ok).toBe(false);
    expect(read.ok ? '' : read.message).toMatch(/a ConfigMap holds at most 1048576 bytes/);
  });

  it('refuses flow collections nested deeper than the limit, counting only real brackets', () => {
    const deep = readYaml(`model: a\nx: ${'['.repeat(MAX_FLOW_DEPTH + 1)}${']'.repeat(MAX_FLOW_DEPTH + 1)}\n`);
    expect(deep.ok ? '' : deep.message).toBe(`YAML error: nested deeper than ${MAX_FLOW_DEPTH} levels`);
    // Brackets in quoted strings and comments are text, not nesting.
    const quoted = readYaml(`model: a # ${'['.repeat(100)}\nx: "${'{'.repeat(100)}"\ny: '${'['.repeat(100)}'\n`);
    expect(quoted.ok).toBe(true);
  });

  it('names the key of an alias bomb and keeps reading the ConfigMap\'s other keys', () => {
    const bomb = `a: &a [x, x, x]\nb: [${Array.from({ length: 150 }, () => '*a').join(', ')}]\n`;
    const parsed = parsePolicyConfigMap(configMap({ 'bomb.yaml': bomb, 'good.yaml': GOOD }));
    expect(parsed.policies.map((p) => p.model)).toEqual(['a']);
    expect(parsed.errors).toHaveLength(1);
    expect(parsed.errors[0]).toMatchObject({ key: 'bomb.yaml', kind: 'yaml' });
    expect(parsed.errors[0]?.message).toMatch(/alias/i);
  });
});
