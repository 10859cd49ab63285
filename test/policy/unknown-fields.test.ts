import { describe, expect, it } from 'vitest';
import { editDistance, nearest } from '../../src/util/suggest.ts';
import { policyDefaultsSchema, toFieldProblems } from '../../src/policy/index.ts';
import { backendWith, docWith, problems } from './helpers.ts';

const TOP = 'model, aliases, server, protocol, backends, timeout, retries, outlierDetection, circuitBreaker, probe, affinity, coldStart, zoneFailover, modelFromBody, mirror, rateLimit';
const RETRIES = 'attempts, perTryTimeout, retryOn, backoff';

describe('unknown fields', () => {
  it.each([
    ['top-level typo', { modle: 'x' }, `modle: unknown field; did you mean "model"? valid fields: ${TOP}`],
    ['singular backends', { backend: 'x' }, `backend: unknown field; did you mean "backends"? valid fields: ${TOP}`],
    ['capitalised', { Timeout: '5s' }, `Timeout: unknown field; did you mean "timeout"? valid fields: ${TOP}`],
    ['snake case', { circuit_breaker: {} }, `circuit_breaker: unknown field; did you mean "circuitBreaker"? valid fields: ${TOP}`],
    ['nothing close', { xyzzy: 1 }, `xyzzy: unknown field; valid fields: ${TOP}`],
    ['retries typo', { retries: { atempts: 3 } }, `retries.atempts: unknown field; did you mean "attempts"? valid fields: ${RETRIES}`],
    ['retries snake case', { retries: { per_try_timeout: '1s' } }, `retries.per_try_timeout: unknown field; did you mean "perTryTimeout"? valid fields: ${RETRIES}`],
    ['backoff', { retries: { backoff: { base: '1s', max: '2s', bse: '1s' } } }, 'retries.backoff.bse: unknown field; did you mean "base"? valid fields: base, max'],
    [
      'Istio outlier name',
      { outlierDetection: { consecutive5xxErrors: 5 } },
      'outlierDetection.consecutive5xxErrors: unknown field; did you mean "consecutiveErrors"? valid fields: consecutiveErrors, interval, baseEjectionTime, maxEjectionPercent, failurePercentage, successRate',
    ],
    [
      'failurePercentage',
      { outlierDetection: { failurePercentage: { treshold: 5 } } },
      'outlierDetection.failurePercentage.treshold: unknown field; did you mean "threshold"? valid fields: threshold, minimumHosts, requestVolume',
    ],
    [
      'successRate',
      { outlierDetection: { successRate: { stdev: 1900 } } },
      'outlierDetection.successRate.stdev: unknown field; valid fields: stdevFactor, minimumHosts, requestVolume',
    ],
    [
      'circuitBreaker',
      { circuitBreaker: { maxConnection: 5 } },
      'circuitBreaker.maxConnection: unknown field; did you mean "maxConnections"? valid fields: maxConnections, maxPendingRequests, maxRequests, maxRetries',
    ],
  ])('%s', (_, patch, expected) => {
    expect(problems(docWith(patch))).toEqual([expected]);
  });

  it('in a backend, with its index', () => {
    expect(problems(backendWith({ weigth: 5 }))).toEqual([
      'backends[0].weigth: unknown field; did you mean "weight"? valid fields: name, service, namespace, port, version, weight',
    ]);
  });

  it('one problem per unknown field, next to other problems', () => {
    expect(problems(docWith({ retries: { atempts: 1, retry_on: [] }, timeout: 'x' }))).toEqual([
      'timeout: "x" is not a duration; a duration is a number and a unit (ms, s, m, h), e.g. 250ms, 5s, 1.5s, 1m30s, 1h',
      `retries.atempts: unknown field; did you mean "attempts"? valid fields: ${RETRIES}`,
      `retries.retry_on: unknown field; did you mean "retryOn"? valid fields: ${RETRIES}`,
    ]);
  });

  it('defaults layers accept only the defaultable fields', () => {
    const result = policyDefaultsSchema.safeParse({ timeout: '5s', model: 'x' });
    expect(result.success).toBe(false);
    if (result.success) return;
    expect(toFieldProblems(policyDefaultsSchema, result.error.issues)).toEqual([
      { path: ['model'], atKey: true, message: 'unknown field; valid fields: server, protocol, timeout, retries, outlierDetection, circuitBreaker, probe, affinity, coldStart, zoneFailover, modelFromBody' },
    ]);
  });
});

describe('suggestions', () => {
  it.each([
    ['kitten', 'sitting', 3],
    ['', 'abc', 3],
    ['same', 'same', 0],
    ['flaw', 'lawn', 2],
    ['retyrOn', 'retryOn', 1],
  ])('editDistance(%s, %s) = %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });

  it.each([
    ['retry_on', ['attempts', 'retryOn'], 'retryOn'],
    ['RETRYON', ['attempts', 'retryOn'], 'retryOn'],
    ['atempts', ['attempts', 'retryOn'], 'attempts'],
    ['zzz', ['attempts', 'retryOn'], undefined],
    ['xy', ['h', 'm'], undefined],
    ['trition', ['triton', 'tfserving', 'generic'], 'triton'],
  ])('nearest(%s)', (input, candidates, expected) => {
    expect(nearest(input, candidates)).toBe(expected);
  });
});
