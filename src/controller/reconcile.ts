import type { ModelPolicy, MeshSettings, PolicySource } from '../model/types.ts';
import { buildModels } from '../model/build.ts';
import { isPolicyConfigMap, parsePolicyConfigMap, resolveOwnership, type PolicyError } from '../policy/index.ts';
import type { ResourceCodec } from '../snapshot/codec.ts';
import { encodeModel, type EncodedModel, type ModelBuildError } from '../snapshot/encode-model.ts';
import type { SourceWorld } from '../sources/types.ts';

export type ModelState = 'serving' | 'stale' | 'rejected' | 'conflict';

export interface ModelStatus {
  model: string;
  state: ModelState;
  source?: PolicySource;
  /** Why the latest policy is not what serves (stale, rejected, conflict). */
  problems: string[];
  /** Fingerprint of what serves: policy and endpoints. Changes mean the model changed. */
  fingerprint: string;
}

/** What the controller remembers between reconciles: the last policy that built cleanly, by location and by model. */
export interface LastGood {
  byLocation: ReadonlyMap<string, ModelPolicy>;
  byModel: ReadonlyMap<string, ModelPolicy>;
}

export const EMPTY_LAST_GOOD: LastGood = { byLocation: new Map(), byModel: new Map() };

export interface ReconcileResult {
  encoded: EncodedModel[];
  statuses: ModelStatus[];
  policyErrors: PolicyError[];
  warnings: { model: string; message: string }[];
  lastGood: LastGood;
}

export function locationKey(source: Pick<PolicySource, 'namespace' | 'configMap' | 'key' | 'index'>): string {
  return `${source.namespace}/${source.configMap}/${source.key}#${source.index}`;
}

function formatBuildErrors(errors: ModelBuildError[]): string[] {
  return errors.flatMap((failure) => failure.errors.map((e) => `${failure.resource}: ${e.path}: ${e.message}`));
}

/**
 * A document that fails validation keeps its last good version serving, found by where it lives
 * (namespace/ConfigMap/key/index), because a broken document may not even name its model any more.
 */
function withLastGoodFallback(policies: ModelPolicy[], errors: PolicyError[], lastGood: LastGood): { policies: ModelPolicy[]; staleLocations: Map<string, PolicyError[]> } {
  const staleLocations = new Map<string, PolicyError[]>();
  const present = new Set(policies.map((p) => locationKey(p.source)));
  for (const error of errors) {
    const key = locationKey({ ...error, index: error.index ?? 0 });
    const previous = lastGood.byLocation.get(key);
    if (!previous || present.has(key)) continue;
    staleLocations.set(key, [...(staleLocations.get(key) ?? []), error]);
  }
  const fallbacks = [...staleLocations.keys()].flatMap((key) => lastGood.byLocation.get(key) ?? []);
  return { policies: [...policies, ...fallbacks], staleLocations };
}

function fingerprint(encoded: EncodedModel): string {
  return [...encoded.clusters, ...encoded.endpoints].map((r) => r.version).join(',') + JSON.stringify(encoded.routes);
}

/**
 * One pass of the pipeline, best effort per model: parse every policy, resolve ownership, join endpoints,
 * translate and validate each model on its own. A model whose latest policy fails keeps its last good one.
 */
export function reconcileWorld(world: SourceWorld, lastGood: LastGood, codec: ResourceCodec, settings: MeshSettings): ReconcileResult {
  const parsed = world.configMaps.filter(isPolicyConfigMap).map(parsePolicyConfigMap);
  const policyErrors = parsed.flatMap((p) => p.errors);
  const { policies, staleLocations } = withLastGoodFallback(parsed.flatMap((p) => p.policies), policyErrors, lastGood);
  const ownership = resolveOwnership(policies);
  policyErrors.push(...ownership.conflicts);

  const built = buildModels(ownership.winners, world.endpointSlices);
  const byLocation = new Map<string, ModelPolicy>();
  const byModel = new Map<string, ModelPolicy>();
  const encoded: EncodedModel[] = [];
  const statuses: ModelStatus[] = [];

  for (const model of built.models) {
    const key = locationKey(model.policy.source);
    const staleErrors = staleLocations.get(key);
    let result = encodeModel(model, settings, codec);
    let problems = staleErrors ? staleErrors.map((e) => `${e.path || '(document)'}: ${e.message}`) : [];
    let serving = model.policy;
    if (!result.ok) {
      problems = formatBuildErrors(result.errors);
      const previous = lastGood.byModel.get(model.policy.model);
      if (previous && previous !== model.policy) {
        const fallback = buildModels([previous], world.endpointSlices).models[0];
        if (fallback) {
          result = encodeModel(fallback, settings, codec);
          serving = previous;
        }
      }
    }
    if (!result.ok) {
      statuses.push({ model: model.policy.model, state: 'rejected', source: model.policy.source, problems, fingerprint: '' });
      continue;
    }
    encoded.push(result.encoded);
    const stale = problems.length > 0;
    statuses.push({ model: serving.model, state: stale ? 'stale' : 'serving', source: serving.source, problems, fingerprint: fingerprint(result.encoded) });
    if (!stale) {
      byModel.set(serving.model, serving);
      byLocation.set(key, serving);
    } else {
      byModel.set(serving.model, lastGood.byModel.get(serving.model) ?? serving);
      const previous = lastGood.byLocation.get(locationKey(serving.source));
      if (previous) byLocation.set(locationKey(serving.source), previous);
    }
  }
  for (const conflict of ownership.conflicts) {
    statuses.push({ model: conflict.model ?? '?', state: 'conflict', source: { namespace: conflict.namespace, configMap: conflict.configMap, key: conflict.key, index: conflict.index ?? 0, createdAt: '' }, problems: [conflict.message], fingerprint: '' });
  }
  for (const error of policyErrors) {
    const key = locationKey({ ...error, index: error.index ?? 0 });
    if (error.kind === 'conflict' || staleLocations.has(key)) continue;
    if (statuses.some((s) => s.source && locationKey(s.source) === key)) continue;
    statuses.push({ model: error.model ?? `(${key})`, state: 'rejected', source: { namespace: error.namespace, configMap: error.configMap, key: error.key, index: error.index ?? 0, createdAt: '' }, problems: [`${error.path || '(document)'}: ${error.message}`], fingerprint: '' });
  }
  return { encoded, statuses: mergeRejected(statuses), policyErrors, warnings: built.warnings, lastGood: { byLocation, byModel } };
}

/** Several errors in one rejected document are one rejected model with several problems. */
function mergeRejected(statuses: ModelStatus[]): ModelStatus[] {
  const merged = new Map<string, ModelStatus>();
  for (const status of statuses) {
    const key = `${status.state}|${status.model}|${status.source ? locationKey(status.source) : ''}`;
    const existing = merged.get(key);
    if (existing) existing.problems.push(...status.problems);
    else merged.set(key, { ...status, problems: [...status.problems] });
  }
  return [...merged.values()].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
}
