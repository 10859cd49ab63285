/** Policy ConfigMaps: parse, validate, apply defaults, resolve ownership. */
export { formatPolicyError, formatPath, type PolicyError, type PolicyErrorKind } from './errors.ts';
export { DURATION_EXAMPLES, MAX_DURATION_MS, formatDuration, parseDuration, type DurationResult } from '../util/duration.ts';
export {
  DNS_1035_LABEL,
  DNS_LABEL,
  MAX_WEIGHT,
  MODEL_NAME,
  PORT_NAME,
  policyDefaultsSchema,
  policyDocumentSchema,
  type PolicyDefaultsValues,
  type PolicyDocument,
} from './schema.ts';
export {
  BUILTIN_DEFAULTS,
  resolvePolicy,
  resolvePolicyWithProvenance,
  type PolicyDefaults,
  type Provenance,
  type ProvenanceSource,
} from './defaults.ts';
export { toFieldProblems, type FieldProblem } from './issues.ts';
export {
  POLICY_LABEL,
  isPolicyConfigMap,
  parsePolicyConfigMap,
  parsePolicyConfigMapWithDefaults,
  type ParsedPolicies,
} from './parse.ts';
export { compareSources, resolveOwnership, type Ownership } from './conflicts.ts';
export { DEFAULTS_LABEL, isDefaultsConfigMap, layersFor, parseDefaults, type NamespacedDefaults } from './defaults-configmap.ts';
export { checkNamespaceBoundary } from './namespace-boundary.ts';
