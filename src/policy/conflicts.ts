/** Which policy owns each x-model value when several claim it: the oldest ConfigMap. */
import { excerpt, quote } from '../util/printable.ts';
import type { ModelPolicy, PolicySource } from '../model/types.ts';
import type { PolicyError } from './errors.ts';

export interface Ownership {
  /** Policies that own all their names, sorted by model. */
  winners: ModelPolicy[];
  /** One per name a losing policy claims that an older one owns, oldest loser first. */
  conflicts: PolicyError[];
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Unparseable timestamps sort last: a ConfigMap of unknown age never takes a name from one of known age. */
function age(source: PolicySource): number {
  const time = Date.parse(source.createdAt);
  return Number.isNaN(time) ? Infinity : time;
}

/** Total order: creation time, then namespace, ConfigMap, key and index, so results never depend on input order. */
export function compareSources(a: PolicySource, b: PolicySource): number {
  const byAge = age(a) - age(b);
  if (byAge !== 0 && !Number.isNaN(byAge)) return byAge;
  return (
    compareText(a.namespace, b.namespace) ||
    compareText(a.configMap, b.configMap) ||
    compareText(a.key, b.key) ||
    a.index - b.index
  );
}

function describeOwner(owner: ModelPolicy, name: string): string {
  const { namespace, configMap, key, index, createdAt } = owner.source;
  const role = owner.model === name ? 'model' : `an alias of model ${JSON.stringify(owner.model)}`;
  // No creation time (a folder object without creationTimestamp): the owner came first by namespace and name.
  const age = createdAt ? `created ${createdAt}` : 'no creationTimestamp, first by namespace and name';
  return `${excerpt(namespace, 253)}/${excerpt(configMap, 253)} key ${quote(key, 253)} [doc ${index}] (as ${role}, ${age})`;
}

/** Names a policy claims, with the field path that claims each. */
function claims(policy: ModelPolicy): { name: string; path: string }[] {
  return [{ name: policy.model, path: 'model' }, ...policy.aliases.map((name, i) => ({ name, path: `aliases[${i}]` }))];
}

/**
 * The older ConfigMap keeps a contested model name or alias; a newer policy claiming any owned name is
 * left out whole (partially serving a policy would be surprising) and reported once per contested name.
 */
export function resolveOwnership(policies: readonly ModelPolicy[]): Ownership {
  const owners = new Map<string, ModelPolicy>();
  const winners: ModelPolicy[] = [];
  const conflicts: PolicyError[] = [];
  for (const policy of [...policies].sort((a, b) => compareSources(a.source, b.source))) {
    const contested = claims(policy).filter(({ name }) => owners.has(name));
    if (contested.length === 0) {
      for (const { name } of claims(policy)) owners.set(name, policy);
      winners.push(policy);
      continue;
    }
    for (const { name, path } of contested) {
      const owner = owners.get(name);
      if (!owner) continue;
      const { namespace, configMap, key, index } = policy.source;
      conflicts.push({
        namespace,
        configMap,
        key,
        index,
        model: policy.model,
        path,
        kind: 'conflict',
        message: `${JSON.stringify(name)} is already claimed by older ${describeOwner(owner, name)}; this policy is ignored until one of them gives up the name`,
      });
    }
  }
  winners.sort((a, b) => compareText(a.model, b.model));
  return { winners, conflicts };
}
