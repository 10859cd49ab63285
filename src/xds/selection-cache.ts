import { createHash } from 'node:crypto';
import type { ResourceKind } from '../envoy/type-urls.ts';
import type { EncodedResource } from '../snapshot/codec.ts';
import { versionOf, type Snapshot } from '../snapshot/snapshot.ts';
import type { SubscriptionSelector as Subscription } from './subscription.ts';

/** What one subscription selects from one snapshot, worked out once for every stream that shares it. */
export interface Selection {
  resources: readonly EncodedResource[];
  /** The resources' Any bytes, one shared array (so an encoded response body can be shared too). */
  anys: readonly Uint8Array[];
  /** The resources' names, and the Anys' bytes together: what every complete response of it reports. */
  names: readonly string[];
  bytes: number;
  version: string;
  view: ReadonlyMap<string, EncodedResource>;
}

/**
 * A stable key for a subscription: streams that ask for the same names (every Envoy sidecar asks for the
 * same clusters' endpoints) get the same key. Computed when a subscription changes, not per snapshot.
 */
export function subscriptionKey(kind: ResourceKind, subscription: Subscription): string {
  if (subscription === 'wildcard') return `${kind} *`;
  let digest = digests.get(subscription);
  if (digest === undefined) {
    const hash = createHash('sha256');
    for (const name of [...subscription].sort()) hash.update(name).update('\0');
    digests.set(subscription, (digest = hash.digest('hex')));
  }
  return `${kind} ${subscription.size} ${digest}`;
}

/** Per name set, its digest: streams sharing one set (subscription.ts) hash its thousands of names once. State-of-the-world
 * sets, the only ones keyed, never change once made (delta copies before it changes a set). */
const digests = new WeakMap<ReadonlySet<string>, string>();

/**
 * Per snapshot, the selection of each distinct subscription. With a thousand sidecars subscribed alike, a
 * new snapshot costs one selection and one version hash per type, not a thousand.
 */
export class SelectionCache {
  readonly #bySnapshot = new WeakMap<Snapshot, Map<string, Selection>>();

  get(snapshot: Snapshot, kind: ResourceKind, subscription: Subscription, key: string): Selection {
    let selections = this.#bySnapshot.get(snapshot);
    if (!selections) this.#bySnapshot.set(snapshot, (selections = new Map()));
    let selection = selections.get(key);
    if (!selection) {
      const resources = snapshot.select(kind, subscription);
      const anys = resources.map((r) => r.any);
      selection = { resources, anys, names: resources.map((r) => r.name), bytes: anys.reduce((sum, any) => sum + any.length, 0), version: versionOf(resources), view: snapshot.selectionView(kind, subscription) };
      selections.set(key, selection);
    }
    return selection;
  }
}

/**
 * One shared Set per distinct subscription: a thousand sidecars each asking for the same thousands of
 * endpoint names hold one copy between them, not a thousand. Entries go when no stream holds them.
 */
export class SubscriptionInterner {
  readonly #sets = new Map<string, WeakRef<ReadonlySet<string>>>();
  readonly #forget = new FinalizationRegistry<string>((key) => {
    if (this.#sets.get(key)?.deref() === undefined) this.#sets.delete(key);
  });

  intern(key: string, subscription: Subscription): Subscription {
    if (subscription === 'wildcard') return subscription;
    const existing = this.#sets.get(key)?.deref();
    if (existing) return existing;
    this.#sets.set(key, new WeakRef(subscription));
    this.#forget.register(subscription, key);
    return subscription;
  }
}
