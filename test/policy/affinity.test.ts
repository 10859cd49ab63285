/** Session affinity: validation of `affinity`, its resolution over defaults layers, and what the builders write. */
import { describe, expect, it } from 'vitest';
import { backendCluster } from '../../src/envoy/cluster.ts';
import { splitAction } from '../../src/envoy/route-action.ts';
import { resolvePolicyWithProvenance, type PolicyDefaults } from '../../src/policy/index.ts';
import { testModel, testPolicy } from '../support/models.ts';
import { docWith, problems, validDoc, SOURCE } from './helpers.ts';

const RULE =
  "a lowercase HTTP header name (1-128 of a-z 0-9 and !#$%&'*+.^_`|~-, e.g. x-session-id), not starting with grpc- nor ending in -bin";

describe('affinity: validation', () => {
  it.each([['x-session-id'], ['cookie'], ['x-user_id'], ['a'], ['x'.repeat(128)]])('accepts header %s', (header) => {
    expect(problems(docWith({ affinity: { header } }))).toEqual([]);
  });

  it('accepts null (off)', () => {
    expect(problems(docWith({ affinity: null }))).toEqual([]);
  });

  it.each([
    ['uppercase', 'X-Session-Id', `affinity.header: must be ${RULE}, got "X-Session-Id"`],
    ['a space', 'x session', `affinity.header: must be ${RULE}, got "x session"`],
    ['a pseudo-header', ':authority', `affinity.header: must be ${RULE}, got ":authority"`],
    ['binary metadata', 'x-session-bin', `affinity.header: must be ${RULE}, got "x-session-bin"`],
    ['grpc- reserved', 'grpc-timeout', `affinity.header: must be ${RULE}, got "grpc-timeout"`],
    ['a number', 7, `affinity.header: must be ${RULE}, got 7 (a number; quote it: "7")`],
  ])('rejects %s', (_, header, expected) => {
    expect(problems(docWith({ affinity: { header } }))).toEqual([expected]);
  });

  it('rejects a header longer than 128 characters', () => {
    expect(problems(docWith({ affinity: { header: 'x'.repeat(129) } }))).toEqual([expect.stringMatching(/^affinity\.header: must be a lowercase HTTP header name \(1-128 .*, got "xxx/)]);
  });

  it('names the field when the header is missing, and when affinity is not a mapping', () => {
    expect(problems(docWith({ affinity: {} }))).toEqual([`affinity.header: required: must be ${RULE}`]);
    expect(problems(docWith({ affinity: 'x-session-id' }))[0]).toMatch(/^affinity: must be a mapping with fields header .*e\.g\. \{ header: x-session-id \}.*, got "x-session-id"$/);
  });
});

describe('affinity: resolution', () => {
  const layer = (values: Record<string, unknown>): PolicyDefaults => {
    const { model: _m, aliases: _a, backends: _b, ...defaultable } = validDoc(docWith(values));
    return { name: 'namespace/ml', values: defaultable };
  };
  const resolve = (patch: Record<string, unknown>, layers: PolicyDefaults[] = []) => resolvePolicyWithProvenance(validDoc(docWith(patch)), SOURCE, layers);

  it('is off unless set, with no provenance entry', () => {
    const { policy, provenance } = resolve({});
    expect(policy.affinity).toBeUndefined();
    expect(Object.keys(provenance).filter((key) => key.startsWith('affinity'))).toEqual([]);
  });

  it('comes from the policy or from a defaults layer, and says which', () => {
    expect(resolve({ affinity: { header: 'x-session-id' } })).toMatchObject({ policy: { affinity: { header: 'x-session-id' } }, provenance: { 'affinity.header': 'policy' } });
    const fromLayer = resolve({}, [layer({ affinity: { header: 'x-user' } })]);
    expect(fromLayer).toMatchObject({ policy: { affinity: { header: 'x-user' } }, provenance: { 'affinity.header': 'default:namespace/ml' } });
    expect(resolve({ affinity: { header: 'x-session-id' } }, [layer({ affinity: { header: 'x-user' } })]).policy.affinity).toEqual({ header: 'x-session-id' });
  });

  it('null in the policy turns a layer\'s affinity off, and says who did', () => {
    const { policy, provenance } = resolve({ affinity: null }, [layer({ affinity: { header: 'x-user' } })]);
    expect(policy.affinity).toBeUndefined();
    expect(provenance['affinity']).toBe('policy');
  });
});

describe('affinity: Envoy resources', () => {
  it('hashes the route on the header and makes every backend cluster RING_HASH', () => {
    const model = testModel(testPolicy({ affinity: { header: 'x-session-id' } }));
    expect(splitAction(model).hash_policy).toEqual([{ header: { header_name: 'x-session-id' } }]);
    for (const backend of model.backends) {
      const cluster = backendCluster(model, backend);
      expect(cluster.lb_policy).toBe('RING_HASH');
      // Defaults are left out (canonical bytes; gRPC and Envoy assume the same defaults, gRFC A42).
      expect(cluster.ring_hash_lb_config).toBeUndefined();
    }
  });

  it('writes neither without affinity (ROUND_ROBIN is the default and left out)', () => {
    const model = testModel(testPolicy());
    expect(splitAction(model).hash_policy).toBeUndefined();
    for (const backend of model.backends) expect(backendCluster(model, backend).lb_policy).toBeUndefined();
  });
});
