import { describe, expect, it } from 'vitest';
import { RETRY_CONDITIONS } from '../../src/model/types.ts';
import { baseDoc, docWith, problems, validDoc } from './helpers.ts';

/** [case, document patch] that must validate. */
const valid: [string, Record<string, unknown>][] = [
  ['model with . : / - _', { model: 'meta/llama-3.1:8b_instruct' }],
  ['one-character model', { model: 'a' }],
  ['253-character model', { model: 'a'.repeat(253) }],
  ['aliases', { aliases: ['resnet', 'rn/50', 'ResNet-50'] }],
  ['empty aliases', { aliases: [] }],
  ['server triton', { server: 'triton' }],
  ['server tfserving', { server: 'tfserving' }],
  ['server generic', { server: 'generic' }],
  ['protocol grpc', { protocol: 'grpc' }],
  ['protocol http', { protocol: 'http' }],
  ['timeout', { timeout: '1m30s' }],
  ['retries, all fields', { retries: { attempts: 3, perTryTimeout: '5s', retryOn: ['unavailable', '5xx'], backoff: { base: '25ms', max: '250ms' } } }],
  ['retries.attempts 0 and 10', { retries: { attempts: 0 } }],
  ['retries.attempts 10', { retries: { attempts: 10 } }],
  ['every retry condition', { retries: { retryOn: [...RETRY_CONDITIONS] } }],
  ['retries.perTryTimeout null', { retries: { perTryTimeout: null } }],
  ['retries.backoff null', { retries: { backoff: null } }],
  ['backoff max == base', { retries: { backoff: { base: '1s', max: '1s' } } }],
  ['empty retries', { retries: {} }],
  [
    'outlierDetection, all fields',
    {
      outlierDetection: {
        consecutiveErrors: 1,
        interval: '10s',
        baseEjectionTime: '30s',
        maxEjectionPercent: 100,
        failurePercentage: { threshold: 0, minimumHosts: 1, requestVolume: 1 },
        successRate: { stdevFactor: 1900, minimumHosts: 5, requestVolume: 100 },
      },
    },
  ],
  ['outlierDetection null', { outlierDetection: null }],
  ['maxEjectionPercent 0', { outlierDetection: { maxEjectionPercent: 0 } }],
  ['detectors null', { outlierDetection: { consecutiveErrors: null, failurePercentage: null, successRate: null } }],
  ['circuitBreaker, all fields', { circuitBreaker: { maxConnections: 1, maxPendingRequests: 256, maxRequests: 1024, maxRetries: 3 } }],
  ['circuitBreaker null', { circuitBreaker: null }],
  ['circuitBreaker field null', { circuitBreaker: { maxRetries: null } }],
];

describe('policy document: valid fields', () => {
  it.each(valid)('%s', (_, patch) => {
    expect(problems(docWith(patch))).toEqual([]);
  });

  it('turns durations into milliseconds and keeps null as "off"', () => {
    const doc = validDoc(docWith({ timeout: '1.5s', retries: { perTryTimeout: null, backoff: { base: '25ms', max: '1s' } } }));
    expect(doc.timeout).toBe(1500);
    expect(doc.retries).toEqual({ perTryTimeout: null, backoff: { base: 25, max: 1000 } });
  });
});

/** [case, document patch, the one expected "path: message" fragment]. */
const invalid: [string, Record<string, unknown>, string][] = [
  ['missing model', { model: undefined }, 'model: required: must be a model name (1-253 letters, digits or . _ : / -'],
  ['empty model', { model: '' }, 'model: must be a model name (1-253 letters, digits or . _ : / -, starting with a letter or digit), got ""'],
  ['model starting with -', { model: '-resnet' }, 'model: must be a model name'],
  ['model starting with .', { model: '.resnet' }, 'got ".resnet"'],
  ['header injection in model', { model: 'resnet\nx-evil: 1' }, 'model: must be a model name (1-253 letters, digits or . _ : / -, starting with a letter or digit), got "resnet\\nx-evil: 1"'],
  ['trailing newline in model', { model: 'resnet\n' }, 'got "resnet\\n"'],
  ['regex in model', { model: 'a|b.*' }, 'got "a|b.*"'],
  ['space in model', { model: 'res net' }, 'got "res net"'],
  ['non-ASCII model', { model: 'résnet' }, 'model: must be a model name'],
  ['254-character model', { model: 'a'.repeat(254) }, 'model: must be a model name'],
  ['numeric model', { model: 50 }, 'model: must be a model name (1-253 letters, digits or . _ : / -, starting with a letter or digit), got 50 (a number; quote it: "50")'],
  ['duplicate alias', { aliases: ['resnet', 'rn', 'resnet'] }, 'aliases[2]: "resnet" is already listed as aliases[0]; list each once'],
  ['alias equal to model', { aliases: ['resnet', 'resnet50'] }, 'aliases[1]: "resnet50" is the model name itself; list only other names'],
  ['alias with |', { aliases: ['a|b'] }, 'aliases[0]: must be a model name'],
  ['aliases not a list', { aliases: 'resnet' }, 'aliases: must be a list of model names, got "resnet"'],
  ['server typo', { server: 'trition' }, 'server: must be one of triton, tfserving, generic, got "trition"; did you mean "triton"?'],
  ['server in capitals', { server: 'TRITON' }, 'did you mean "triton"?'],
  ['server unknown', { server: 'vllm' }, 'server: must be one of triton, tfserving, generic, got "vllm"'],
  ['protocol h2', { protocol: 'http2' }, 'protocol: must be one of grpc, http, got "http2"'],
  ['timeout as number', { timeout: 5 }, 'timeout: must be a duration such as 250ms, 5s, 1.5s, 1m30s, 1h, got 5 (a number; add a unit, e.g. 5s or 5ms)'],
  ['timeout without unit', { timeout: '5' }, 'timeout: "5" has no unit'],
  ['timeout zero', { timeout: '0s' }, 'timeout: must be longer than 0s, got "0s"'],
  ['timeout over 24h', { timeout: '25h' }, 'timeout: "25h" is longer than the maximum, 24h'],
  ['attempts 11', { retries: { attempts: 11 } }, 'retries.attempts: must be an integer from 0 to 10 (retries after the first try; 0 disables retries), got 11'],
  ['attempts -1', { retries: { attempts: -1 } }, 'retries.attempts: must be an integer from 0 to 10'],
  ['attempts 1.5', { retries: { attempts: 1.5 } }, 'got 1.5'],
  ['attempts quoted', { retries: { attempts: '2' } }, 'retries.attempts: must be an integer from 0 to 10 (retries after the first try; 0 disables retries), got "2" (a string; remove the quotes)'],
  ['perTryTimeout bad', { retries: { perTryTimeout: '5 s' } }, 'retries.perTryTimeout: "5 s" contains spaces'],
  ['retryOn typo', { retries: { retryOn: ['5XX'] } }, 'retries.retryOn[0]: must be one of 5xx, gateway-error'],
  ['retryOn Istio-only name', { retries: { retryOn: ['unavailable', 'retriable-status-codes'] } }, 'retries.retryOn[1]: must be one of'],
  ['retryOn comma string in list', { retries: { retryOn: ['unavailable,reset'] } }, 'give each value as its own list item'],
  ['retryOn not a list', { retries: { retryOn: 'unavailable' } }, 'retries.retryOn: must be a list of retry conditions, got "unavailable"'],
  ['retryOn empty', { retries: { retryOn: [] } }, 'retries.retryOn: must list at least one condition; to disable retries set attempts: 0'],
  ['retryOn duplicate', { retries: { retryOn: ['reset', 'reset'] } }, 'retries.retryOn[1]: "reset" is already listed as retryOn[0]'],
  ['backoff max < base', { retries: { backoff: { base: '250ms', max: '25ms' } } }, 'retries.backoff.max: must be >= base (250ms), got 25ms'],
  ['backoff without max', { retries: { backoff: { base: '25ms' } } }, 'retries.backoff.max: required: must be a duration'],
  ['retries not a mapping', { retries: 3 }, 'retries: must be a mapping with fields attempts, perTryTimeout, retryOn, backoff, got 3'],
  ['retries null', { retries: null }, 'retries: must be a mapping with fields attempts, perTryTimeout, retryOn, backoff, got null'],
  ['consecutiveErrors 0', { outlierDetection: { consecutiveErrors: 0 } }, 'outlierDetection.consecutiveErrors: must be an integer >= 1, got 0'],
  ['interval 0s', { outlierDetection: { interval: '0s' } }, 'outlierDetection.interval: must be longer than 0s'],
  ['baseEjectionTime no unit', { outlierDetection: { baseEjectionTime: 30 } }, 'outlierDetection.baseEjectionTime: must be a duration'],
  ['maxEjectionPercent 101', { outlierDetection: { maxEjectionPercent: 101 } }, 'outlierDetection.maxEjectionPercent: must be an integer from 0 to 100, got 101'],
  ['interval null', { outlierDetection: { interval: null } }, 'outlierDetection.interval: must be a duration such as 250ms, 5s, 1.5s, 1m30s, 1h, got null'],
  ['failurePercentage.threshold 101', { outlierDetection: { failurePercentage: { threshold: 101 } } }, 'outlierDetection.failurePercentage.threshold: must be an integer from 0 to 100'],
  ['failurePercentage.minimumHosts 0', { outlierDetection: { failurePercentage: { minimumHosts: 0 } } }, 'outlierDetection.failurePercentage.minimumHosts: must be an integer >= 1, got 0'],
  ['failurePercentage.requestVolume 0', { outlierDetection: { failurePercentage: { requestVolume: 0 } } }, 'outlierDetection.failurePercentage.requestVolume: must be an integer >= 1, got 0'],
  ['stdevFactor as a fraction', { outlierDetection: { successRate: { stdevFactor: 1.9 } } }, 'outlierDetection.successRate.stdevFactor: must be an integer >= 1 (thousandths, as Envoy: 1900 means 1.9 standard deviations), got 1.9'],
  ['successRate.minimumHosts 0', { outlierDetection: { successRate: { minimumHosts: 0 } } }, 'outlierDetection.successRate.minimumHosts: must be an integer >= 1'],
  ['successRate.requestVolume over uint32', { outlierDetection: { successRate: { requestVolume: 2 ** 32 } } }, 'outlierDetection.successRate.requestVolume: must be at most 4294967295, got 4294967296'],
  ['outlierDetection a list', { outlierDetection: [] }, 'outlierDetection: must be a mapping with fields consecutiveErrors, interval, baseEjectionTime, maxEjectionPercent, failurePercentage, successRate (or null to turn outlier detection off), got a list'],
  ['maxConnections 0', { circuitBreaker: { maxConnections: 0 } }, 'circuitBreaker.maxConnections: must be an integer >= 1, got 0'],
  ['maxPendingRequests 0', { circuitBreaker: { maxPendingRequests: 0 } }, 'circuitBreaker.maxPendingRequests: must be an integer >= 1, got 0'],
  ['maxRequests negative', { circuitBreaker: { maxRequests: -5 } }, 'circuitBreaker.maxRequests: must be an integer >= 1, got -5'],
  ['maxRetries text', { circuitBreaker: { maxRetries: 'three' } }, 'circuitBreaker.maxRetries: must be an integer >= 1, got "three"'],
];

describe('policy document: invalid fields', () => {
  it.each(invalid)('%s', (_, patch, expected) => {
    const found = problems(docWith(patch));
    expect(found).toHaveLength(1);
    expect(found[0]).toContain(expected);
  });

  it('reports every problem of a document at once', () => {
    const found = problems(docWith({ server: 'x', timeout: 'x', retries: { attempts: 99 }, circuitBreaker: { maxRetries: 0 } }));
    expect(found.map((p) => p.split(':')[0])).toEqual(['server', 'timeout', 'retries.attempts', 'circuitBreaker.maxRetries']);
  });

  it('never shows zod wording', () => {
    const cases = [...invalid.map(([, patch]) => docWith(patch)), 'text', 7, null, [], { backends: 'x' }, { model: 'a', backends: [7] }];
    for (const input of cases) {
      for (const problem of problems(input)) {
        expect(problem).not.toMatch(/Invalid input|Expected|received|Unrecognized key|Too small|Too big/);
      }
    }
  });

  it.each([
    ['a string', 'resnet50', 'got "resnet50"'],
    ['null', null, 'got null'],
    ['a list', [baseDoc()], 'got a list'],
  ])('rejects a document that is %s', (_, input, got) => {
    const fields = 'model, aliases, server, protocol, backends, timeout, retries, outlierDetection, circuitBreaker, probe, affinity, coldStart, zoneFailover, modelFromBody, mirror, rateLimit';
    expect(problems(input)).toEqual([`: must be a mapping with fields ${fields}, ${got}`]);
  });
});
