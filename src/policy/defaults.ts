/**
 * Effective policies: built-in defaults, then defaults layers in order (later wins), then the document.
 * Nested sections merge field by field; `null` turns a field or section off, and a section turned back on
 * above a `null` starts again from the built-in values.
 */
import type { AffinityPolicy, BackendPolicy, ColdStartPolicy, CircuitBreakerPolicy, ModelPolicy, OutlierDetectionPolicy, PolicySource, ProbePolicy, RetryPolicy, ZoneFailoverPolicy } from '../model/types.ts';
import type { PolicyDefaultsValues, PolicyDocument } from './schema.ts';

/** Where an effective value came from. */
export type ProvenanceSource = 'policy' | 'builtin' | `default:${string}`;
/**
 * By field path as written in YAML ("timeout", "retries.backoff.max"): who set each effective value, or who
 * turned it off (then the field is absent from the policy). Fields nobody set have no entry.
 */
export type Provenance = Record<string, ProvenanceSource>;

/** One layer of partial defaults (e.g. a namespace's or the mesh's defaults ConfigMap). */
export interface PolicyDefaults {
  /** Shown in provenance as `default:<name>`, e.g. "namespace/ml". */
  name: string;
  values: PolicyDefaultsValues;
}

const SUCCESS_RATE_BASE = { stdevFactor: 1900, minimumHosts: 5, requestVolume: 100 };

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/**
 * What applies when nobody says otherwise. Failure-percentage ejection is on because proxyless gRPC clients
 * apply only failure_percentage and success_rate, never consecutive errors.
 */
export const BUILTIN_DEFAULTS = deepFreeze({
  server: 'generic',
  protocol: 'grpc',
  timeout: 30_000,
  retries: {
    attempts: 2,
    retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'reset'],
    backoff: { base: 25, max: 250 },
  },
  outlierDetection: {
    consecutiveErrors: 5,
    interval: 10_000,
    baseEjectionTime: 30_000,
    maxEjectionPercent: 50,
    failurePercentage: { threshold: 50, minimumHosts: 2, requestVolume: 10 },
  },
  circuitBreaker: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 },
  // enabled: left to the server kind (on for triton and tfserving); see resolveProbe.
  probe: { port: 'http' },
} satisfies PolicyDefaultsValues);

interface Step<T> {
  source: ProvenanceSource;
  value: T | null | undefined;
}

/** The same field of every step. */
function sub<T, K extends keyof NonNullable<T>>(steps: readonly Step<T>[], key: K): Step<NonNullable<T>[K]>[] {
  return steps.map((step) => ({ source: step.source, value: step.value == null ? undefined : step.value[key] }));
}

/** The last step that says anything about a leaf decides it; `null` means unset. */
function leaf<T>(path: string, steps: readonly Step<T>[], provenance: Provenance): NonNullable<T> | undefined {
  for (let i = steps.length - 1; i >= 0; i--) {
    const step = steps[i];
    if (step === undefined || step.value === undefined) continue;
    provenance[path] = step.source;
    return step.value ?? undefined;
  }
  return undefined;
}

/**
 * The steps that shape a section, or undefined when it is off (never set, or turned off by the last `null`).
 * `base` (built-in values) comes first, so fields nobody sets keep built-in values and say so.
 */
function section<T>(path: string, steps: readonly Step<T>[], base: NonNullable<T> | undefined, provenance: Provenance): Step<NonNullable<T>>[] | undefined {
  const lastOff = steps.findLastIndex((step) => step.value === null);
  const after = steps.slice(lastOff + 1).flatMap((step) => (step.value == null ? [] : [{ source: step.source, value: step.value }]));
  const off = steps[lastOff];
  if (after.length === 0) {
    if (off) provenance[path] = off.source;
    return undefined;
  }
  return base === undefined ? after : [{ source: 'builtin', value: base }, ...after];
}

function resolveRetries(steps: Step<PolicyDefaultsValues>[], provenance: Provenance): RetryPolicy {
  const retries = sub(steps, 'retries');
  const perTry = leaf('retries.perTryTimeout', sub(retries, 'perTryTimeout'), provenance);
  const backoffSteps = section('retries.backoff', sub(retries, 'backoff'), BUILTIN_DEFAULTS.retries.backoff, provenance);
  const base = backoffSteps && leaf('retries.backoff.base', sub(backoffSteps, 'base'), provenance);
  const max = backoffSteps && leaf('retries.backoff.max', sub(backoffSteps, 'max'), provenance);
  return {
    attempts: leaf('retries.attempts', sub(retries, 'attempts'), provenance) ?? BUILTIN_DEFAULTS.retries.attempts,
    ...(perTry !== undefined ? { perTryTimeoutMs: perTry } : {}),
    retryOn: [...(leaf('retries.retryOn', sub(retries, 'retryOn'), provenance) ?? BUILTIN_DEFAULTS.retries.retryOn)],
    ...(base !== undefined && max !== undefined ? { backoff: { baseMs: base, maxMs: max } } : {}),
  };
}

/** Numeric fields of a section, each falling back to `base` (the built-in value) when nobody sets it. */
function numbers<K extends string>(
  path: string,
  steps: Step<Partial<Record<K, number | null>>>[],
  base: Readonly<Record<K, number>>,
  keys: readonly K[],
  provenance: Provenance,
): Record<K, number> {
  const result: Record<K, number> = { ...base };
  for (const key of keys) result[key] = leaf(`${path}.${key}`, sub(steps, key), provenance) ?? base[key];
  return result;
}

const DETECTOR_KEYS = ['minimumHosts', 'requestVolume'] as const;

function resolveOutlier(steps: Step<PolicyDefaultsValues>[], provenance: Provenance): OutlierDetectionPolicy | undefined {
  const builtin = BUILTIN_DEFAULTS.outlierDetection;
  const outlier = section('outlierDetection', sub(steps, 'outlierDetection'), builtin, provenance);
  if (!outlier) return undefined;
  const path = 'outlierDetection';
  const consecutiveErrors = leaf(`${path}.consecutiveErrors`, sub(outlier, 'consecutiveErrors'), provenance);
  const timing = numbers(path, outlier, builtin, ['interval', 'baseEjectionTime', 'maxEjectionPercent'], provenance);
  const failurePath = `${path}.failurePercentage`;
  const failure = section(failurePath, sub(outlier, 'failurePercentage'), builtin.failurePercentage, provenance);
  const successPath = `${path}.successRate`;
  const success = section(successPath, sub(outlier, 'successRate'), SUCCESS_RATE_BASE, provenance);
  return {
    ...(consecutiveErrors !== undefined ? { consecutiveErrors } : {}),
    intervalMs: timing.interval,
    baseEjectionTimeMs: timing.baseEjectionTime,
    maxEjectionPercent: timing.maxEjectionPercent,
    ...(failure
      ? { failurePercentage: numbers(failurePath, failure, builtin.failurePercentage, ['threshold', ...DETECTOR_KEYS], provenance) }
      : {}),
    ...(success ? { successRate: numbers(successPath, success, SUCCESS_RATE_BASE, ['stdevFactor', ...DETECTOR_KEYS], provenance) } : {}),
  };
}

const CIRCUIT_BREAKER_KEYS = ['maxConnections', 'maxPendingRequests', 'maxRequests', 'maxRetries'] as const;

function resolveCircuitBreaker(steps: Step<PolicyDefaultsValues>[], provenance: Provenance): CircuitBreakerPolicy | undefined {
  const breaker = section('circuitBreaker', sub(steps, 'circuitBreaker'), BUILTIN_DEFAULTS.circuitBreaker, provenance);
  if (!breaker) return undefined;
  const result: CircuitBreakerPolicy = {};
  for (const key of CIRCUIT_BREAKER_KEYS) {
    const value = leaf(`circuitBreaker.${key}`, sub(breaker, key), provenance);
    if (value !== undefined) result[key] = value;
  }
  return result;
}

/** Probing is on for servers that can answer it (triton, tfserving) unless switched off; never for generic. */
function resolveProbe(steps: Step<PolicyDefaultsValues>[], server: ModelPolicy['server'], provenance: Provenance): ProbePolicy {
  const probe = sub(steps, 'probe');
  const enabled = leaf('probe.enabled', sub(probe, 'enabled'), provenance);
  const port = leaf('probe.port', sub(probe, 'port'), provenance) ?? BUILTIN_DEFAULTS.probe.port;
  return { enabled: server !== 'generic' && (enabled ?? true), port };
}

/** Off unless some layer sets it; a later `null` turns it off again. No built-in header. */
function resolveAffinity(steps: Step<PolicyDefaultsValues>[], provenance: Provenance): AffinityPolicy | undefined {
  const affinity = section('affinity', sub(steps, 'affinity'), undefined, provenance);
  const header = affinity && leaf('affinity.header', sub(affinity, 'header'), provenance);
  return header === undefined ? undefined : { header };
}

/** Off unless some layer sets it; a later `null` turns it off again. No built-in hold. */
function resolveColdStart(steps: Step<PolicyDefaultsValues>[], provenance: Provenance): ColdStartPolicy | undefined {
  const coldStart = section('coldStart', sub(steps, 'coldStart'), undefined, provenance);
  const holdFor = coldStart && leaf('coldStart.holdFor', sub(coldStart, 'holdFor'), provenance);
  return holdFor === undefined ? undefined : { holdForMs: holdFor };
}

/** Off unless some layer enables it; `enabled: false` or `null` in a later layer turns it off again. */
function resolveZoneFailover(steps: Step<PolicyDefaultsValues>[], provenance: Provenance): ZoneFailoverPolicy | undefined {
  const zoneFailover = section('zoneFailover', sub(steps, 'zoneFailover'), undefined, provenance);
  const enabled = zoneFailover && leaf('zoneFailover.enabled', sub(zoneFailover, 'enabled'), provenance);
  return enabled === true ? { enabled } : undefined;
}

/** Per model only (it names one of the document's backends): the document's value, if any. */
function resolveMirror(doc: PolicyDocument, provenance: Provenance): ModelPolicy['mirror'] {
  if (doc.mirror === undefined) return undefined;
  provenance['mirror.backend'] = 'policy';
  provenance['mirror.percent'] = 'policy';
  return { backend: doc.mirror.backend, percent: doc.mirror.percent };
}

/** A burst left out is requestsPerSecond (a bucket of one second's tokens), shown as built-in. */
function resolveRateLimit(doc: PolicyDocument, provenance: Provenance): ModelPolicy['rateLimit'] {
  if (doc.rateLimit === undefined) return undefined;
  provenance['rateLimit.requestsPerSecond'] = 'policy';
  provenance['rateLimit.burst'] = doc.rateLimit.burst === undefined ? 'builtin' : 'policy';
  return { requestsPerSecond: doc.rateLimit.requestsPerSecond, burst: doc.rateLimit.burst ?? doc.rateLimit.requestsPerSecond };
}

/** Weights as written, or an equal split (1 each) when no backend sets one. */
function resolveBackends(doc: PolicyDocument): BackendPolicy[] {
  return doc.backends.map((backend) => ({
    name: backend.name,
    service: backend.service,
    ...(backend.namespace !== undefined ? { namespace: backend.namespace } : {}),
    port: backend.port,
    ...(backend.version !== undefined ? { version: backend.version } : {}),
    weight: backend.weight ?? 1,
  }));
}

/** The effective policy and where each of its values came from. Pure; inputs are not modified. */
export function resolvePolicyWithProvenance(
  doc: PolicyDocument,
  source: PolicySource,
  layers: readonly PolicyDefaults[] = [],
): { policy: ModelPolicy; provenance: Provenance } {
  const provenance: Provenance = {};
  const steps: Step<PolicyDefaultsValues>[] = [
    { source: 'builtin', value: BUILTIN_DEFAULTS },
    ...layers.map((layer): Step<PolicyDefaultsValues> => ({ source: `default:${layer.name}`, value: layer.values })),
    { source: 'policy', value: doc },
  ];
  const outlierDetection = resolveOutlier(steps, provenance);
  const circuitBreaker = resolveCircuitBreaker(steps, provenance);
  const server = leaf('server', sub(steps, 'server'), provenance) ?? BUILTIN_DEFAULTS.server;
  const affinity = resolveAffinity(steps, provenance);
  const coldStart = resolveColdStart(steps, provenance);
  const zoneFailover = resolveZoneFailover(steps, provenance);
  // Off unless some layer sets true; a later false turns it off again.
  const modelFromBody = leaf('modelFromBody', sub(steps, 'modelFromBody'), provenance) === true;
  const policy: ModelPolicy = {
    model: doc.model,
    aliases: [...(doc.aliases ?? [])],
    server,
    protocol: leaf('protocol', sub(steps, 'protocol'), provenance) ?? BUILTIN_DEFAULTS.protocol,
    backends: resolveBackends(doc),
    timeoutMs: leaf('timeout', sub(steps, 'timeout'), provenance) ?? BUILTIN_DEFAULTS.timeout,
    retries: resolveRetries(steps, provenance),
    ...(outlierDetection ? { outlierDetection } : {}),
    ...(circuitBreaker ? { circuitBreaker } : {}),
    probe: resolveProbe(steps, server, provenance),
    ...(doc.mirror ? { mirror: resolveMirror(doc, provenance) } : {}),
    ...(affinity ? { affinity } : {}),
    ...(zoneFailover ? { zoneFailover } : {}),
    ...(doc.rateLimit ? { rateLimit: resolveRateLimit(doc, provenance) } : {}),
    ...(coldStart ? { coldStart } : {}),
    ...(modelFromBody ? { modelFromBody: true as const } : {}),
    source: { ...source },
  };
  return { policy, provenance };
}

/** The effective policy for a validated document: document over layers (later wins) over built-in defaults. */
export function resolvePolicy(doc: PolicyDocument, source: PolicySource, layers: readonly PolicyDefaults[] = []): ModelPolicy {
  return resolvePolicyWithProvenance(doc, source, layers).policy;
}
