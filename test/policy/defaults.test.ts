import { describe, expect, it } from 'vitest';
import type { ModelPolicy } from '../../src/model/types.ts';
import { BUILTIN_DEFAULTS, resolvePolicy, resolvePolicyWithProvenance, type PolicyDefaults } from '../../src/policy/index.ts';
import { backendWith, baseDoc, docWith, validDoc, SOURCE } from './helpers.ts';


const BUILTIN_POLICY: ModelPolicy = {
  model: 'resnet50',
  aliases: [],
  server: 'generic',
  protocol: 'grpc',
  backends: [{ name: 'stable', service: 'resnet50-triton', port: 'grpc', weight: 1 }],
  timeoutMs: 30_000,
  retries: { attempts: 2, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'reset'], backoff: { baseMs: 25, maxMs: 250 } },
  outlierDetection: {
    consecutiveErrors: 5,
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionPercent: 50,
    failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 10 },
  },
  circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
  probe: { enabled: false, port: 'http' },
  source: SOURCE,
};

function resolve(patch: Record<string, unknown>, layers: PolicyDefaults[] = []) {
  return resolvePolicyWithProvenance(validDoc(docWith(patch)), SOURCE, layers);
}

function layer(name: string, values: Record<string, unknown>): PolicyDefaults {
  const doc = validDoc(docWith(values));
  const { model: _model, aliases: _aliases, backends: _backends, ...defaultable } = doc;
  return { name, values: defaultable };
}

describe('resolvePolicy: built-in defaults', () => {
  it('fills every field a minimal document leaves out', () => {
    expect(resolvePolicy(validDoc(baseDoc()), SOURCE)).toEqual(BUILTIN_POLICY);
  });

  it('says every value is built in', () => {
    const { provenance } = resolve({});
    expect(Object.entries(provenance).filter(([, from]) => from !== 'builtin')).toEqual([]);
    expect(Object.keys(provenance).sort()).toEqual([
      'circuitBreaker.maxConnections',
      'circuitBreaker.maxPendingRequests',
      'circuitBreaker.maxRequests',
      'circuitBreaker.maxRetries',
      'outlierDetection.baseEjectionTime',
      'outlierDetection.consecutiveErrors',
      'outlierDetection.failurePercentage.minimumHosts',
      'outlierDetection.failurePercentage.requestVolume',
      'outlierDetection.failurePercentage.threshold',
      'outlierDetection.interval',
      'outlierDetection.maxEjectionPercent',
      'probe.port',
      'protocol',
      'retries.attempts',
      'retries.backoff.base',
      'retries.backoff.max',
      'retries.retryOn',
      'server',
      'timeout',
    ]);
  });

  it('is frozen, and results share nothing with it', () => {
    expect(Object.isFrozen(BUILTIN_DEFAULTS.retries.retryOn)).toBe(true);
    const first = resolvePolicy(validDoc(baseDoc()), SOURCE);
    first.retries.retryOn.push('5xx');
    first.source.namespace = 'changed';
    expect(resolvePolicy(validDoc(baseDoc()), SOURCE)).toEqual(BUILTIN_POLICY);
  });

  it('splits equally when no backend sets a weight and keeps explicit weights', () => {
    const equal = resolvePolicy(validDoc(docWith({ backends: [{ name: 'a', service: 's', port: 1 }, { name: 'b', service: 't', port: 2, version: '2' }] })), SOURCE);
    expect(equal.backends).toEqual([
      { name: 'a', service: 's', port: 1, weight: 1 },
      { name: 'b', service: 't', port: 2, version: '2', weight: 1 },
    ]);
    expect(resolvePolicy(validDoc(backendWith({ weight: 7 })), SOURCE).backends[0]?.weight).toBe(7);
  });
});

describe('resolvePolicy: the document over layers over built-ins', () => {
  it('takes document values and says so', () => {
    const { policy, provenance } = resolve({ aliases: ['rn'], server: 'triton', protocol: 'http', timeout: '5s' });
    expect(policy).toMatchObject({ aliases: ['rn'], server: 'triton', protocol: 'http', timeoutMs: 5_000 });
    expect(provenance).toMatchObject({ server: 'policy', protocol: 'policy', timeout: 'policy', 'retries.attempts': 'builtin' });
  });

  it('applies layers in order, later winning, and the document over all', () => {
    const layers = [layer('global', { timeout: '10s', server: 'triton' }), layer('namespace/ml', { timeout: '20s' })];
    const fromLayers = resolve({}, layers);
    expect(fromLayers.policy.timeoutMs).toBe(20_000);
    expect(fromLayers.policy.server).toBe('triton');
    expect(fromLayers.provenance).toMatchObject({ timeout: 'default:namespace/ml', server: 'default:global', protocol: 'builtin' });
    const fromDoc = resolve({ timeout: '1s' }, layers);
    expect(fromDoc.policy.timeoutMs).toBe(1_000);
    expect(fromDoc.provenance.timeout).toBe('policy');
  });

  it('merges nested sections field by field', () => {
    const layers = [layer('global', { retries: { attempts: 5 }, circuitBreaker: { maxRequests: 10 } })];
    const { policy, provenance } = resolve({ retries: { perTryTimeout: '2s' }, outlierDetection: { failurePercentage: { threshold: 80 } } }, layers);
    expect(policy.retries).toEqual({ attempts: 5, perTryTimeoutMs: 2_000, retryOn: BUILTIN_POLICY.retries.retryOn, backoff: { baseMs: 25, maxMs: 250 } });
    expect(policy.circuitBreaker).toEqual({ ...BUILTIN_POLICY.circuitBreaker, maxRequests: 10 });
    expect(policy.outlierDetection?.failurePercentage).toEqual({ threshold: 80, minimumHosts: 2, requestVolume: 10 });
    expect(provenance).toMatchObject({
      'retries.attempts': 'default:global',
      'retries.perTryTimeout': 'policy',
      'retries.retryOn': 'builtin',
      'circuitBreaker.maxRequests': 'default:global',
      'circuitBreaker.maxRetries': 'builtin',
      'outlierDetection.failurePercentage.threshold': 'policy',
      'outlierDetection.failurePercentage.minimumHosts': 'builtin',
    });
  });

  it('replaces lists whole', () => {
    const { policy } = resolve({ retries: { retryOn: ['5xx'] } }, [layer('global', { retries: { retryOn: ['reset', 'unavailable'] } })]);
    expect(policy.retries.retryOn).toEqual(['5xx']);
  });

  it('turns sections and fields off with null, recording who did', () => {
    const { policy, provenance } = resolve({
      retries: { backoff: null },
      outlierDetection: { consecutiveErrors: null, failurePercentage: null },
      circuitBreaker: { maxRetries: null },
    });
    expect(policy.retries.backoff).toBeUndefined();
    expect(policy.outlierDetection).toEqual({ intervalMs: 10_000, baseEjectionTimeMs: 30_000, maxEjectionPercent: 50 });
    expect(policy.circuitBreaker).toEqual({ maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024 });
    expect(provenance).toMatchObject({
      'retries.backoff': 'policy',
      'outlierDetection.consecutiveErrors': 'policy',
      'outlierDetection.failurePercentage': 'policy',
      'circuitBreaker.maxRetries': 'policy',
    });
    expect(provenance['retries.backoff.base']).toBeUndefined();

    const off = resolve({ outlierDetection: null, circuitBreaker: null });
    expect(off.policy.outlierDetection).toBeUndefined();
    expect(off.policy.circuitBreaker).toBeUndefined();
    expect(off.provenance).toMatchObject({ outlierDetection: 'policy', circuitBreaker: 'policy' });
  });

  it('starts a section turned back on above a null from the built-in values', () => {
    const layers = [layer('global', { outlierDetection: { interval: '1s' } }), layer('namespace/ml', { outlierDetection: null })];
    expect(resolve({}, layers).policy.outlierDetection).toBeUndefined();
    const { policy, provenance } = resolve({ outlierDetection: { maxEjectionPercent: 10 } }, layers);
    expect(policy.outlierDetection).toEqual({ ...BUILTIN_POLICY.outlierDetection, maxEjectionPercent: 10 });
    expect(provenance).toMatchObject({ 'outlierDetection.interval': 'builtin', 'outlierDetection.maxEjectionPercent': 'policy' });
  });

  it('fills a partly given successRate with Envoy defaults', () => {
    const { policy, provenance } = resolve({ outlierDetection: { successRate: { stdevFactor: 2500 } } });
    expect(policy.outlierDetection?.successRate).toEqual({ stdevFactor: 2500, minimumHosts: 5, requestVolume: 100 });
    expect(policy.outlierDetection?.failurePercentage).toEqual(BUILTIN_POLICY.outlierDetection?.failurePercentage);
    expect(provenance).toMatchObject({ 'outlierDetection.successRate.stdevFactor': 'policy', 'outlierDetection.successRate.minimumHosts': 'builtin' });
  });

  it('does not modify the document or the layers', () => {
    const doc = validDoc(docWith({ retries: { retryOn: ['reset'] } }));
    const layers = [layer('global', { circuitBreaker: { maxRetries: 9 } })];
    const copies = structuredClone({ doc, layers });
    resolvePolicy(doc, SOURCE, layers).retries.retryOn.push('5xx');
    expect({ doc, layers }).toEqual(copies);
  });
});

describe('resolvePolicy: probe (per-model readiness from the model server)', () => {
  const resolveServer = (doc: Record<string, unknown>) => resolve(doc).policy;
  it('is on for triton and tfserving, on the Service port named http, unless switched off', () => {
    expect(resolveServer({ server: 'triton' }).probe).toEqual({ enabled: true, port: 'http' });
    expect(resolveServer({ server: 'tfserving', probe: { port: 8501 } }).probe).toEqual({ enabled: true, port: 8501 });
    expect(resolveServer({ server: 'triton', probe: { enabled: false } }).probe.enabled).toBe(false);
  });

  it('is never on for generic servers', () => {
    expect(resolveServer({}).probe.enabled).toBe(false);
  });
});
