/** Label and field selector parsing of the fake API server, against the apimachinery grammar. */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../support/fake-kube/kinds.ts';
import { fieldMatcher, labelMatcher } from '../support/fake-kube/selectors.ts';
import { ApiError } from '../support/fake-kube/status.ts';

const obj = (labels: Record<string, string>, extra: Partial<KubeObject> = {}): KubeObject => ({ metadata: { name: 'n', namespace: 'ns', labels }, ...extra });

describe('label selectors', () => {
  const cases: [selector: string, labels: Record<string, string>, matches: boolean][] = [
    ['', {}, true],
    ['a=b', { a: 'b' }, true],
    [' a = b ', { a: 'b' }, true],
    ['a==b', { a: 'c' }, false],
    ['a!=b', {}, true],
    ['a!=b', { a: 'b' }, false],
    ['a=', { a: '' }, true],
    ['a in (x, y)', { a: 'y' }, true],
    ['a in (x,y)', {}, false],
    ['a notin (x)', {}, true],
    ['a notin (x)', { a: 'x' }, false],
    ['a', { a: '' }, true],
    ['!a', { a: '' }, false],
    ['!a', { b: '1' }, true],
    ['a,b=1', { a: 'x', b: '1' }, true],
    ['a,b=1', { b: '1' }, false],
    ['infermesh.io/policy=true', { 'infermesh.io/policy': 'true' }, true],
    ['n>3', { n: '4' }, true],
    ['n<3', { n: '4' }, false],
  ];
  for (const [selector, labels, matches] of cases) {
    it(`${JSON.stringify(selector)} on ${JSON.stringify(labels)} -> ${matches}`, () => {
      expect(labelMatcher(selector)(obj(labels))).toBe(matches);
    });
  }

  it('rejects malformed selectors with a 400 BadRequest', () => {
    for (const selector of ['a in x', 'a in (x', 'a b', '=b', 'a=b=c', 'Bad Key=1', 'a>x', '-a=1']) {
      expect(() => labelMatcher(selector), selector).toThrow(ApiError);
      try {
        labelMatcher(selector);
      } catch (error) {
        expect((error as ApiError).status).toMatchObject({ code: 400, reason: 'BadRequest' });
      }
    }
  });
});

describe('field selectors', () => {
  it('supports metadata.name / metadata.namespace with =, == and != (AND), and kind-specific Event fields', () => {
    expect(fieldMatcher('metadata.name=n', 'ConfigMap')(obj({}))).toBe(true);
    expect(fieldMatcher('metadata.name==n,metadata.namespace!=ns', 'ConfigMap')(obj({}))).toBe(false);
    const event = obj({}, { involvedObject: { kind: 'ConfigMap', name: 'p' }, reason: 'Invalid' });
    expect(fieldMatcher('involvedObject.name=p,reason=Invalid', 'Event')(event)).toBe(true);
    expect(fieldMatcher('involvedObject.uid=', 'Event')(event)).toBe(true);
  });

  it('rejects fields the kind does not support', () => {
    expect(() => fieldMatcher('involvedObject.name=p', 'ConfigMap')).toThrow(/field label not supported/);
    expect(() => fieldMatcher('metadata.name', 'ConfigMap')).toThrow(ApiError);
  });
});
