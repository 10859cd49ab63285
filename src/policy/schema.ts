/** The policy document schema (DESIGN.md "Policy ConfigMaps"). Durations come out in milliseconds. */
import { z } from 'zod';
import { RETRY_CONDITIONS } from '../model/types.ts';
import { formatDuration } from '../util/duration.ts';
import { describeValue, duration, int, list, mapping, mustBe, oneOf, text, UINT32_MAX } from './fields.ts';

/** x-model values: safe in a header, an Envoy exact match and a cluster name (no `|`, spaces or control characters). */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,252}$/;
const MODEL_NAME_RULE = '1-253 letters, digits or . _ : / -, starting with a letter or digit';
const DNS_LABEL_RULE = '1-63 lowercase letters, digits or -, starting and ending with a letter or digit';
/** RFC 1123 label, as Kubernetes names most things. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** RFC 1035 label: what a Service name must be. */
export const DNS_1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** IANA_SVC_NAME (Kubernetes port names): <= 15 chars, lowercase alphanumerics and single inner dashes, one letter at least. */
export const PORT_NAME = /^(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*$/;

export const MAX_WEIGHT = 1_000_000;
const PORT_RULE =
  'a Service port name (1-15 lowercase letters, digits and single dashes, with a letter, e.g. grpc) or number from 1 to 65535';

const modelName = (what: string) => text(MODEL_NAME, `${what} (${MODEL_NAME_RULE})`);

/** Port name or number; a quoted number ("8080") is a number, since a port name always has a letter. */
const port = z.unknown().transform((value, ctx) => {
  const candidate = typeof value === 'string' && /^\d{1,5}$/.test(value) ? Number(value) : value;
  if (typeof candidate === 'number' && Number.isInteger(candidate) && candidate >= 1 && candidate <= 65535) return candidate;
  if (typeof candidate === 'string' && PORT_NAME.test(candidate)) return candidate;
  ctx.issues.push({ code: 'custom', message: mustBe(PORT_RULE)({ input: value }) ?? PORT_RULE, input: value });
  return z.NEVER;
});

const backend = mapping({
  name: text(DNS_LABEL, `a DNS label (${DNS_LABEL_RULE})`),
  service: text(
    DNS_1035_LABEL,
    "a Service name in the ConfigMap's namespace (1-63 lowercase letters, digits or -, starting with a letter, ending with a letter or digit)",
  ),
  /** Another namespace's Service; allowed only for namespaces the control plane is told to allow. */
  namespace: text(DNS_LABEL, `a namespace name (${DNS_LABEL_RULE})`).optional(),
  port,
  version: modelName('a version').optional(),
  weight: int(0, MAX_WEIGHT).optional(),
});
type BackendDocument = z.output<typeof backend>;

function firstIndex(values: readonly (string | undefined)[], index: number): number {
  const value = values[index];
  return value === undefined ? -1 : values.indexOf(value);
}

function checkBackends(backends: BackendDocument[], ctx: z.RefinementCtx): void {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  const names = backends.map((b) => b.name);
  const versions = backends.map((b) => b.version);
  backends.forEach((b, i) => {
    const sameName = firstIndex(names, i);
    if (sameName !== i) issue([i, 'name'], `${describeValue(b.name)} is already the name of backends[${sameName}]; backend names must be unique`);
    const sameVersion = firstIndex(versions, i);
    if (sameVersion !== i && sameVersion >= 0) {
      issue([i, 'version'], `${describeValue(b.version)} is already the version of backends[${sameVersion}]; a version must select one backend`);
    }
  });
  const weighted = backends.findIndex((b) => b.weight !== undefined);
  if (weighted < 0) return;
  backends.forEach((b, i) => {
    if (b.weight === undefined) {
      issue([i, 'weight'], `required because backends[${weighted}] sets a weight: set weight on every backend, or on none for an equal split`);
    }
  });
  const total = backends.reduce((sum, b) => sum + (b.weight ?? 0), 0);
  if (total === 0 && backends.every((b) => b.weight !== undefined)) {
    issue([], 'weights sum to 0: give at least one backend a weight > 0 (a weight-0 backend is reachable only by version)');
  }
  if (total > UINT32_MAX) issue([], `weights sum to ${total}: the total must be at most ${UINT32_MAX}`);
}

const unique = (field: string) => (values: string[], ctx: z.RefinementCtx): void => {
  values.forEach((value, i) => {
    const first = values.indexOf(value);
    const message = `${describeValue(value)} is already listed as ${field}[${first}]; list each once`;
    if (first !== i) ctx.addIssue({ code: 'custom', path: [i], message });
  });
};

const backoff = mapping({ base: duration(), max: duration() }).superRefine((value, ctx) => {
  if (value.max < value.base) {
    const message = `must be >= base (${formatDuration(value.base)}), got ${formatDuration(value.max)}`;
    ctx.addIssue({ code: 'custom', path: ['max'], message });
  }
});

const retries = mapping({
  attempts: int(0, 10, ' (retries after the first try; 0 disables retries)').optional(),
  perTryTimeout: duration().nullable().optional(),
  retryOn: list(oneOf(RETRY_CONDITIONS), 'retry conditions', 'must list at least one condition; to disable retries set attempts: 0')
    .superRefine(unique('retryOn'))
    .optional(),
  backoff: backoff.nullable().optional(),
});

const failurePercentage = mapping({
  threshold: int(0, 100, ' (percent of failed requests)').optional(),
  minimumHosts: int(1).optional(),
  requestVolume: int(1).optional(),
}, ' (or null to turn it off)');

const successRate = mapping({
  stdevFactor: int(1, undefined, ' (thousandths, as Envoy: 1900 means 1.9 standard deviations)').optional(),
  minimumHosts: int(1).optional(),
  requestVolume: int(1).optional(),
}, ' (or null to turn it off)');

const outlierDetection = mapping({
  consecutiveErrors: int(1).nullable().optional(),
  interval: duration().optional(),
  baseEjectionTime: duration().optional(),
  maxEjectionPercent: int(0, 100).optional(),
  failurePercentage: failurePercentage.nullable().optional(),
  successRate: successRate.nullable().optional(),
}, ' (or null to turn outlier detection off)');

const circuitBreaker = mapping({
  maxConnections: int(1).nullable().optional(),
  maxPendingRequests: int(1).nullable().optional(),
  maxRequests: int(1).nullable().optional(),
  maxRetries: int(1).nullable().optional(),
}, ' (or null to turn it off)');

const probe = mapping({
  enabled: z.boolean({ error: mustBe('true or false') }).optional(),
  port: port.optional(),
}, ' (enabled: true/false; port: the Service port of the server\'s REST API)');

/**
 * A lowercase HTTP header name (RFC 9110 token). Not `-bin` (binary metadata, which gRPC clients leave out of
 * the hash, gRFC A42), not `grpc-` (reserved by gRPC) and not a pseudo-header (`:authority`...).
 */
export const AFFINITY_HEADER = /^(?!grpc-)(?!.*-bin$)[a-z0-9!#$%&'*+.^_`|~-]{1,128}$/;
const AFFINITY_HEADER_RULE =
  "a lowercase HTTP header name (1-128 of a-z 0-9 and !#$%&'*+.^_`|~-, e.g. x-session-id), not starting with grpc- nor ending in -bin";

const affinity = mapping({
  header: text(AFFINITY_HEADER, AFFINITY_HEADER_RULE),
}, ' (header: the request header to hash on, e.g. { header: x-session-id }; or null to turn affinity off)');

const zoneFailover = mapping({
  enabled: z.boolean({ error: mustBe('true or false') }),
}, " (enabled: true prefers the caller's zone and fails over to other zones, e.g. { enabled: true }; or null to turn it off)");

/** Mirror percent: > 0, <= 100, at most 4 decimal places (Envoy receives it as a fraction of a million). */
const MIRROR_PERCENT_RULE = 'a number greater than 0 and at most 100 (up to 4 decimal places)';
const mirrorPercent = z.number({ error: mustBe(MIRROR_PERCENT_RULE) }).refine(
  (value) => value > 0 && value <= 100 && Math.abs(value * 10_000 - Math.round(value * 10_000)) < 1e-6,
  { error: (issue) => mustBe(MIRROR_PERCENT_RULE)({ input: issue.input }) },
);

const mirror = mapping({
  backend: text(DNS_LABEL, `the name of one of this policy's backends (${DNS_LABEL_RULE})`),
  percent: mirrorPercent,
}, ' (backend: the backend receiving copies; percent: the share of unpinned requests copied, e.g. { backend: canary, percent: 10 })');

const rateLimit = mapping({
  requestsPerSecond: int(1, UINT32_MAX, ' (requests per second each sidecar lets through for this model)'),
  burst: int(1, UINT32_MAX, ' (requests let through at once; at least requestsPerSecond; default requestsPerSecond)').optional(),
}, ' (e.g. { requestsPerSecond: 100, burst: 200 })').superRefine((value, ctx) => {
  // Refinements run even after a field's own issue (zod 4): compare only two valid numbers, one problem each.
  const valid = (n: number | undefined): n is number => Number.isInteger(n) && (n ?? 0) >= 1;
  if (valid(value.burst) && valid(value.requestsPerSecond) && value.burst < value.requestsPerSecond) {
    ctx.addIssue({ code: 'custom', path: ['burst'], message: `must be >= requestsPerSecond (${value.requestsPerSecond}), got ${value.burst}` });
  }
});

/**
 * How long a request may wait for a model's first ready pod. At most 4m: Envoy ends a stream with no activity
 * after its stream idle timeout (5 min by default, not set by infermesh), which would cut a longer hold.
 */
export const COLD_START_HOLD_MIN_MS = 1_000;
export const COLD_START_HOLD_MAX_MS = 240_000;

const holdFor = duration().superRefine((ms, ctx) => {
  if (ms < COLD_START_HOLD_MIN_MS || ms > COLD_START_HOLD_MAX_MS) {
    ctx.addIssue({ code: 'custom', message: `must be from ${formatDuration(COLD_START_HOLD_MIN_MS)} to ${formatDuration(COLD_START_HOLD_MAX_MS)}, got ${formatDuration(ms)}` });
  }
});

const coldStart = mapping({
  holdFor,
}, ' (holdFor: how long a request waits for a ready pod while the model has none, e.g. { holdFor: 30s }; or null to turn it off)');

/** Fields a policy may leave to defaults; defaults layers (namespace/global) use exactly these. */
const defaultable = {
  server: oneOf(['triton', 'tfserving', 'generic']).optional(),
  protocol: oneOf(['grpc', 'http']).optional(),
  timeout: duration().optional(),
  retries: retries.optional(),
  outlierDetection: outlierDetection.nullable().optional(),
  circuitBreaker: circuitBreaker.nullable().optional(),
  probe: probe.optional(),
  affinity: affinity.nullable().optional(),
  coldStart: coldStart.nullable().optional(),
  zoneFailover: zoneFailover.nullable().optional(),
  modelFromBody: z.boolean({ error: mustBe('true or false (route JSON requests without the model header by their body\'s top-level "model")') }).optional(),
};

export const policyDefaultsSchema = mapping(defaultable);

export const policyDocumentSchema = mapping({
  model: modelName('a model name'),
  aliases: list(modelName('a model name'), 'model names').superRefine(unique('aliases')).optional(),
  server: defaultable.server,
  protocol: defaultable.protocol,
  backends: list(backend, 'backends', 'must list at least one backend (name, service, port)').superRefine(checkBackends),
  timeout: defaultable.timeout,
  retries: defaultable.retries,
  outlierDetection: defaultable.outlierDetection,
  circuitBreaker: defaultable.circuitBreaker,
  probe: defaultable.probe,
  affinity: defaultable.affinity,
  coldStart: defaultable.coldStart,
  zoneFailover: defaultable.zoneFailover,
  modelFromBody: defaultable.modelFromBody,
  /** Per model, not defaultable: it names one of the model's own backends. */
  mirror: mirror.optional(),
  /** Per model, not defaultable: a limit is sized for one model's pods. */
  rateLimit: rateLimit.optional(),
}).superRefine((doc, ctx) => {
  if (doc.mirror && !doc.backends.some((b) => b.name === doc.mirror?.backend)) {
    const names = doc.backends.map((b) => describeValue(b.name)).join(', ');
    ctx.addIssue({ code: 'custom', path: ['mirror', 'backend'], message: `must name one of this policy's backends (${names}), got ${describeValue(doc.mirror.backend)}` });
  }
  const mirrored = doc.backends.find((b) => b.name === doc.mirror?.backend);
  if (mirrored && mirrored.weight === 0 && mirrored.version === undefined) {
    const message = `backend ${describeValue(mirrored.name)} has weight 0 and no version: Envoy sidecars load a cluster on demand only when a request is routed to it, never for a mirror, so it would receive no copies; give it a version (a pinned call loads it) or a weight`;
    ctx.addIssue({ code: 'custom', path: ['mirror', 'backend'], message });
  }
  const index = doc.aliases?.indexOf(doc.model) ?? -1;
  if (index >= 0) ctx.addIssue({ code: 'custom', path: ['aliases', index], message: `${describeValue(doc.model)} is the model name itself; list only other names` });
  if (doc.server === 'generic' && doc.probe?.enabled === true) {
    ctx.addIssue({ code: 'custom', path: ['probe', 'enabled'], message: 'must be false for server: generic (only triton and tfserving say which models they have loaded)' });
  }
});

/** A validated document: `undefined` = not set (inherit), `null` = turned off. Durations in milliseconds. */
export type PolicyDocument = z.output<typeof policyDocumentSchema>;
/** The defaultable subset, as a defaults layer holds it. */
export type PolicyDefaultsValues = z.output<typeof policyDefaultsSchema>;
