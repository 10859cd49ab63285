import { RESOURCE_KINDS, TYPE_URLS, type ResourceKind } from '../envoy/type-urls.ts';
import type { EncodedResource } from './codec.ts';
import { versionOf } from './set-version.ts';

export { versionOf } from './set-version.ts';

export type ResourceSet = ReadonlyMap<string, EncodedResource>;

/** Per caller zone, the ClusterLoadAssignments (by cluster name) that replace the flat ones for clients in that zone. */
export type ZoneVariants = ReadonlyMap<string, ResourceSet>;

/**
 * Resources answered for names the snapshot does not list: any name a client may ask for (a per-model gRPC
 * target's listener, the table of a model that does not exist), worked out from the name alone. They are
 * never part of a wildcard subscription, a type version or an iteration; `get` and `has` find them.
 */
export type NamedFallback = (kind: ResourceKind, name: string) => EncodedResource | undefined;

/** The kinds a client names freely (a per-model target's listener and table): only these have a fallback. */
const FALLBACK_KINDS: ReadonlySet<ResourceKind> = new Set(['listener', 'route']);

/** A resource set whose get/has fall back to the snapshot's NamedFallback; iteration and size are its own. */
class SetWithFallback extends Map<string, EncodedResource> {
  readonly #fallback: (name: string) => EncodedResource | undefined;

  constructor(entries: Iterable<[string, EncodedResource]>, fallback: (name: string) => EncodedResource | undefined) {
    super(entries);
    this.#fallback = fallback;
  }

  override get(name: string): EncodedResource | undefined {
    return super.get(name) ?? this.#fallback(name);
  }

  override has(name: string): boolean {
    return super.has(name) || this.#fallback(name) !== undefined;
  }
}

/**
 * An immutable, versioned set of xDS resources. The xDS server sees only this: it never builds or encodes.
 * Resources hidden from wildcard are sent only to clients that name them (the proxyless API listener must
 * not reach Envoy sidecars, which subscribe to listeners by wildcard).
 */
export class Snapshot {
  readonly version: string;
  /** Position in the sequence of published snapshots: later snapshots have larger numbers (set by whoever publishes). */
  readonly sequence: number;
  readonly #resources: ReadonlyMap<ResourceKind, ResourceSet>;
  readonly #hiddenFromWildcard: ReadonlySet<string>;
  readonly #typeVersions: ReadonlyMap<ResourceKind, string>;
  readonly #fallback: NamedFallback | undefined;
  readonly #zoneVariants: ZoneVariants;
  /** Each zone's view, built once and shared by every stream of that zone (and so by the caches keyed by snapshot). */
  readonly #zoneViews = new Map<string, Snapshot>();

  constructor(
    version: string,
    sequence: number,
    resources: ReadonlyMap<ResourceKind, ResourceSet>,
    hiddenFromWildcard: Set<string> = new Set(),
    fallback?: NamedFallback,
    zoneVariants: ZoneVariants = new Map(),
  ) {
    this.version = version;
    this.sequence = sequence;
    this.#fallback = fallback;
    this.#zoneVariants = zoneVariants;
    this.#resources = fallback
      ? new Map([...resources].map(([kind, set]) => [kind, !FALLBACK_KINDS.has(kind) || set instanceof SetWithFallback ? set : new SetWithFallback(set, (name) => fallback(kind, name))]))
      : resources;
    this.#hiddenFromWildcard = hiddenFromWildcard;
    this.#typeVersions = new Map(RESOURCE_KINDS.map((kind) => [kind, versionOf(this.resources(kind).values())]));
  }

  resources(kind: ResourceKind): ResourceSet {
    return this.#resources.get(kind) ?? new Map();
  }

  /** Hash of every resource of one kind: unchanged kinds are not pushed again. */
  typeVersion(kind: ResourceKind): string {
    return this.#typeVersions.get(kind) ?? '';
  }

  /** What a subscription gets: every non-hidden resource for wildcard, else the named ones that exist. */
  select(kind: ResourceKind, names: ReadonlySet<string> | 'wildcard'): EncodedResource[] {
    const all = this.resources(kind);
    if (names === 'wildcard') return [...all.values()].filter((r) => !this.#hiddenFromWildcard.has(`${kind}/${r.name}`));
    const selected: EncodedResource[] = [];
    for (const name of names) {
      const resource = all.get(name);
      if (resource) selected.push(resource);
    }
    return selected;
  }

  /**
   * The same selection as a live-free view over this snapshot's own maps: thousands of streams can remember
   * what they were sent without each copying thousands of entries.
   */
  selectionView(kind: ResourceKind, names: ReadonlySet<string> | 'wildcard'): ReadonlyMap<string, EncodedResource> {
    const hidden = this.#hiddenFromWildcard;
    return new SelectionView(this.resources(kind), names, (name) => hidden.has(`${kind}/${name}`));
  }

  /**
   * This snapshot plus the named clusters of `from`, with their ClusterLoadAssignments: what a proxy whose
   * routes still come from `from` must keep until it takes the new routes (make before break). Same version.
   */
  keepingClusters(from: Snapshot, names: readonly string[]): Snapshot {
    const resources = new Map<ResourceKind, ResourceSet>(RESOURCE_KINDS.map((kind) => [kind, this.#resources.get(kind) ?? new Map<string, EncodedResource>()]));
    for (const kind of ['cluster', 'endpoint'] as const) {
      const kept = new Map(this.resources(kind));
      resources.set(kind, kept);
      for (const name of names) {
        const resource = from.resources(kind).get(name);
        if (resource && !kept.has(name)) kept.set(name, resource);
      }
    }
    return new Snapshot(this.version, this.sequence, resources, new Set(this.#hiddenFromWildcard), this.#fallback);
  }

  /**
   * The snapshot as a client whose node is in `zone` sees it: the ClusterLoadAssignments of clusters with zone
   * failover replaced by that zone's variants (same names, own versions), everything else the same objects.
   * Itself when the zone has no variants (no zone, an unknown zone, or a view already). Same version and
   * sequence: the snapshot version already covers every variant.
   */
  forZone(zone: string | undefined): Snapshot {
    const variants = zone === undefined ? undefined : this.#zoneVariants.get(zone);
    if (zone === undefined || variants === undefined) return this;
    let view = this.#zoneViews.get(zone);
    if (!view) {
      const resources = new Map(this.#resources);
      resources.set('endpoint', new Map([...this.resources('endpoint'), ...variants]));
      view = new Snapshot(this.version, this.sequence, resources, new Set(this.#hiddenFromWildcard), this.#fallback);
      this.#zoneViews.set(zone, view);
    }
    return view;
  }

  /** The zones that have variants (status and tests). */
  variantZones(): string[] {
    return [...this.#zoneVariants.keys()];
  }

  count(): Record<ResourceKind, number> {
    return Object.fromEntries(RESOURCE_KINDS.map((kind) => [kind, this.resources(kind).size])) as Record<ResourceKind, number>;
  }

  static typeUrl(kind: ResourceKind): string {
    return TYPE_URLS[kind];
  }
}

/** A read-only map of the resources a subscription selects from one resource set. */
class SelectionView implements ReadonlyMap<string, EncodedResource> {
  readonly #all: ResourceSet;
  readonly #names: ReadonlySet<string> | 'wildcard';
  readonly #hidden: (name: string) => boolean;

  constructor(all: ResourceSet, names: ReadonlySet<string> | 'wildcard', hidden: (name: string) => boolean) {
    this.#all = all;
    this.#names = names;
    this.#hidden = hidden;
  }

  has(name: string): boolean {
    return this.#all.has(name) && (this.#names === 'wildcard' ? !this.#hidden(name) : this.#names.has(name));
  }

  get(name: string): EncodedResource | undefined {
    return this.has(name) ? this.#all.get(name) : undefined;
  }

  get size(): number {
    let count = 0;
    for (const _ of this.keys()) count += 1;
    return count;
  }

  *entries(): MapIterator<[string, EncodedResource]> {
    if (this.#names === 'wildcard') {
      for (const entry of this.#all) if (!this.#hidden(entry[0])) yield entry;
      return;
    }
    for (const name of this.#names) {
      const resource = this.#all.get(name);
      if (resource) yield [name, resource];
    }
  }

  *keys(): MapIterator<string> {
    for (const [name] of this.entries()) yield name;
  }

  *values(): MapIterator<EncodedResource> {
    for (const [, resource] of this.entries()) yield resource;
  }

  forEach(callback: (value: EncodedResource, key: string, map: ReadonlyMap<string, EncodedResource>) => void): void {
    for (const [name, resource] of this.entries()) callback(resource, name, this);
  }

  [Symbol.iterator](): MapIterator<[string, EncodedResource]> {
    return this.entries();
  }
}
