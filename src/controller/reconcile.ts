import { buildModelSteps } from '../model/build.ts';
import type { MeshSettings, Model, ModelPolicy, PolicySource } from '../model/types.ts';
import type { ProbeTarget, ReadinessSource } from '../probe/types.ts';
import {
  checkNamespaceBoundary,
  isPolicyConfigMap,
  layersFor,
  parseDefaults,
  parsePolicyConfigMapWithDefaults,
  resolveOwnership,
  type NamespacedDefaults,
  type PolicyDefaults,
  type PolicyError,
} from '../policy/index.ts';
import type { ResourceCodec } from '../snapshot/codec.ts';
import { digestKey } from '../util/digest.ts';
import { encodeModel, type EncodedModel, type ModelBuildError } from '../snapshot/encode-model.ts';
import type { ConfigMapObject, SourceWorld } from '../sources/types.ts';
import { runToEnd, type Steps } from '../util/cooperative.ts';

export type ModelState = 'serving' | 'stale' | 'rejected' | 'conflict';

export interface ModelStatus {
  model: string;
  state: ModelState;
  source?: PolicySource;
  /** Why the latest policy is not what serves (stale, rejected, conflict). */
  problems: string[];
  /** Short hash of what serves (resources and routes); a change means the model changed. */
  fingerprint: string;
}

/**
 * What the controller remembers between reconciles: the last policy that was accepted at each document
 * location, and the last resources each model was served with.
 */
export interface LastGood {
  policyByLocation: ReadonlyMap<string, ModelPolicy>;
  encodedByModel: ReadonlyMap<string, EncodedModel>;
  /** A defaults document that breaks keeps applying its last good values, so its policies do not all shift. */
  defaultsByLocation: ReadonlyMap<string, NamespacedDefaults>;
}

export const EMPTY_LAST_GOOD: LastGood = { policyByLocation: new Map(), encodedByModel: new Map(), defaultsByLocation: new Map() };

export interface ReconcileResult {
  encoded: EncodedModel[];
  /** The policy each served model is built from (its last good one when stale). */
  served: ModelPolicy[];
  statuses: ModelStatus[];
  policyErrors: PolicyError[];
  /** Models whose resources failed to build, one line per failed field (not already in policyErrors). */
  buildFailures: string[];
  warnings: { model: string; message: string }[];
  lastGood: LastGood;
  /** The joined models (policies, endpoints and what the model servers say of them), for status and metrics. */
  models: Model[];
  /** The model-server pods to probe and the models each should have (empty without a readiness source). */
  probeTargets: ProbeTarget[];
}

type Location = Pick<PolicySource, 'namespace' | 'configMap' | 'key' | 'index'>;

export function locationKey(source: Location): string {
  return `${source.namespace}/${source.configMap}/${source.key}#${source.index}`;
}

/**
 * The remembered locations an error covers: its document; every document of its key when it has no index
 * (a YAML error); every document of the ConfigMap when it names no key (no .yaml keys left at all).
 */
function coveredLocations(error: PolicyError, remembered: Iterable<string>): string[] {
  if (error.index !== undefined) return [locationKey({ ...error, index: error.index })];
  const prefix = error.key === '' ? `${error.namespace}/${error.configMap}/` : `${error.namespace}/${error.configMap}/${error.key}#`;
  return [...remembered].filter((key) => key.startsWith(prefix));
}

/** Defaults as written, with broken documents replaced by their last good version. */
function effectiveDefaults(world: SourceWorld, lastGood: LastGood, controlPlaneNamespace: string) {
  const parsed = parseDefaults(world.configMaps, controlPlaneNamespace);
  const present = new Set(parsed.defaults.map((d) => locationKey(d)));
  const kept = parsed.errors
    .flatMap((error) => coveredLocations(error, lastGood.defaultsByLocation.keys()))
    .filter((key) => !present.has(key))
    .flatMap((key) => lastGood.defaultsByLocation.get(key) ?? []);
  const defaults = [...parsed.defaults, ...new Set(kept)];
  return { defaults, errors: parsed.errors, byLocation: new Map(defaults.map((d) => [locationKey(d), d])) };
}

function describe(error: PolicyError): string {
  return `${error.path || '(document)'}: ${error.message}`;
}

function describeSource(source: PolicySource): string {
  return `${source.namespace}/${source.configMap} key ${JSON.stringify(source.key)} [doc ${source.index}]`;
}

function formatBuildErrors(errors: ModelBuildError[]): string[] {
  return errors.flatMap((failure) => failure.errors.map((e) => `${failure.resource}: ${e.path}: ${e.message}`));
}

/**
 * A document that no longer validates keeps its last accepted policy, found by where it lives
 * (namespace/ConfigMap/key/index), because a broken document may not even name its model any more.
 */
function withLastGoodPolicies(policies: ModelPolicy[], errors: PolicyError[], lastGood: LastGood) {
  const present = new Set(policies.map((p) => locationKey(p.source)));
  const staleProblems = new Map<string, string[]>();
  for (const error of errors) {
    for (const key of coveredLocations(error, lastGood.policyByLocation.keys())) {
      if (lastGood.policyByLocation.has(key) && !present.has(key)) staleProblems.set(key, [...(staleProblems.get(key) ?? []), describe(error)]);
    }
  }
  const fallbacks = [...staleProblems.keys()].flatMap((key) => lastGood.policyByLocation.get(key) ?? []);
  return { policies: [...policies, ...fallbacks], staleProblems };
}

function sourceOf(error: PolicyError): PolicySource {
  return { namespace: error.namespace, configMap: error.configMap, key: error.key, index: error.index ?? 0, createdAt: '' };
}

type ParsedConfigMap = ReturnType<typeof parsePolicyConfigMapWithDefaults>;

/**
 * An unchanged ConfigMap under unchanged defaults is not parsed again: found first by identity (the same
 * object, as the sources keep unchanged ones), then by content.
 */
function parseOnce(cm: ConfigMapObject, layers: { layers: PolicyDefaults[]; key: string }, codec: ResourceCodec): ParsedConfigMap {
  const byContent = () => {
    const { origin: _origin, ...content } = cm;
    return codec.remember(digestKey(`policy\n${JSON.stringify(content)}\n${layers.key}`), () => parsePolicyConfigMapWithDefaults(cm, layers.layers));
  };
  const parsed = codec.remember(cm, () => ({ layersKey: layers.key, result: byContent() }), (last) => last.layersKey === layers.key);
  return parsed.result;
}

/** reconcileSteps run to the end at once: for the one-shot commands. */
export function reconcileWorld(world: SourceWorld, lastGood: LastGood, codec: ResourceCodec, settings: MeshSettings, readiness?: ReadinessSource): ReconcileResult {
  return runToEnd(reconcileSteps(world, lastGood, codec, settings, readiness));
}

/**
 * One pass of the pipeline, best effort per model: parse every policy, resolve ownership, join endpoints,
 * translate and validate each model on its own. A model whose latest policy fails keeps its last good
 * version; every other model is untouched. Yields after each ConfigMap and each model (see cooperative.ts).
 */
export function* reconcileSteps(world: SourceWorld, lastGood: LastGood, codec: ResourceCodec, settings: MeshSettings, readiness?: ReadinessSource): Steps<ReconcileResult> {
  const { controlPlaneNamespace, crossNamespaceTargets } = settings;
  const defaults = effectiveDefaults(world, lastGood, controlPlaneNamespace);
  const parsed: ParsedConfigMap[] = [];
  const layersByNamespace = new Map<string, { layers: PolicyDefaults[]; key: string }>();
  for (const cm of world.configMaps.filter(isPolicyConfigMap)) {
    let layers = layersByNamespace.get(cm.namespace);
    if (!layers) {
      const list = layersFor(cm.namespace, defaults.defaults, controlPlaneNamespace);
      layers = { layers: list, key: JSON.stringify(list) };
      layersByNamespace.set(cm.namespace, layers);
    }
    parsed.push(parseOnce(cm, layers, codec));
    yield;
  }
  const boundary = checkNamespaceBoundary(parsed.flatMap((p) => p.policies), crossNamespaceTargets);
  const invalid = [...parsed.flatMap((p) => p.errors), ...boundary.errors];
  const { policies, staleProblems } = withLastGoodPolicies(boundary.accepted, invalid, lastGood);
  yield;
  const ownership = resolveOwnership(policies);
  yield;
  const built = yield* buildModelSteps(ownership.winners, world.endpointSlices, readiness);

  const policyByLocation = new Map<string, ModelPolicy>();
  const encodedByModel = new Map<string, EncodedModel>();
  const encoded: EncodedModel[] = [];
  const served: ModelPolicy[] = [];
  const statuses: ModelStatus[] = [];
  const buildFailures: string[] = [];
  const accounted = new Set<string>();

  for (const model of built.models) {
    const name = model.policy.model;
    const location = locationKey(model.policy.source);
    accounted.add(location);
    const result = encodeModel(model, settings, codec);
    yield;
    if (!result.ok) buildFailures.push(...formatBuildErrors(result.errors).map((problem) => `model ${name} (${describeSource(model.policy.source)}): ${problem}`));
    const previous = lastGood.encodedByModel.get(name);
    const chosen = result.ok ? result.encoded : previous;
    const problems = [...(staleProblems.get(location) ?? []), ...(result.ok ? [] : formatBuildErrors(result.errors))];
    if (!chosen) {
      statuses.push({ model: name, state: 'rejected', source: model.policy.source, problems, fingerprint: '' });
      continue;
    }
    encoded.push(chosen);
    served.push(result.ok ? model.policy : (lastGood.policyByLocation.get(location) ?? model.policy));
    encodedByModel.set(name, chosen);
    const stale = problems.length > 0;
    statuses.push({ model: name, state: stale ? 'stale' : 'serving', source: model.policy.source, problems, fingerprint: chosen.fingerprint });
    // Only a policy that built cleanly becomes the new last good for its location.
    const keep = result.ok ? model.policy : lastGood.policyByLocation.get(location);
    if (keep) policyByLocation.set(location, keep);
  }
  for (const conflict of ownership.conflicts) {
    accounted.add(locationKey(sourceOf(conflict)));
    statuses.push({ model: conflict.model ?? '?', state: 'conflict', source: sourceOf(conflict), problems: [conflict.message], fingerprint: '' });
  }
  for (const error of invalid) {
    const location = locationKey(sourceOf(error));
    if (accounted.has(location) || coveredLocations(error, staleProblems.keys()).some((key) => staleProblems.has(key))) continue;
    statuses.push({ model: error.model ?? `(${location})`, state: 'rejected', source: sourceOf(error), problems: [describe(error)], fingerprint: '' });
  }
  return {
    encoded,
    served,
    statuses: mergeByModelAndState(statuses),
    policyErrors: [...defaults.errors, ...invalid, ...ownership.conflicts],
    buildFailures,
    warnings: built.warnings,
    lastGood: { policyByLocation, encodedByModel, defaultsByLocation: defaults.byLocation },
    models: built.models,
    probeTargets: built.probeTargets,
  };
}

/** Several errors in one rejected document are one rejected model with several problems. */
function mergeByModelAndState(statuses: ModelStatus[]): ModelStatus[] {
  const merged = new Map<string, ModelStatus>();
  for (const status of statuses) {
    const key = `${status.state}|${status.model}|${status.source ? locationKey(status.source) : ''}`;
    const existing = merged.get(key);
    if (existing) existing.problems.push(...status.problems);
    else merged.set(key, { ...status, problems: [...status.problems] });
  }
  return [...merged.values()].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
}
