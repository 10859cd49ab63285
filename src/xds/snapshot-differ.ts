import type { ResourceKind } from '../envoy/type-urls.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';

const NO_NAMES: ReadonlySet<string> = new Set();

/** Facts about snapshots that every delta stream needs, computed once and shared (the server owns one). */
export class SnapshotDiffer {
  readonly #hidden = new WeakMap<Snapshot, Map<ResourceKind, ReadonlySet<string>>>();
  /**
   * Keyed by the pair (to, then from), both weakly, and holding only names: an entry must never reference a
   * snapshot, or each one would keep the one before it alive and a stream's latest snapshot all of history.
   */
  readonly #changes = new WeakMap<Snapshot, WeakMap<Snapshot, Map<ResourceKind, readonly string[]>>>();

  /** Names of existing resources hidden from wildcard subscriptions. */
  hidden(snapshot: Snapshot, kind: ResourceKind): ReadonlySet<string> {
    let byKind = this.#hidden.get(snapshot);
    if (!byKind) this.#hidden.set(snapshot, (byKind = new Map()));
    let hidden = byKind.get(kind);
    if (!hidden) {
      const all = snapshot.resources(kind);
      const visible = snapshot.select(kind, 'wildcard');
      const shown = visible.length === all.size ? undefined : new Set(visible.map((resource) => resource.name));
      hidden = shown ? new Set([...all.keys()].filter((name) => !shown.has(name))) : NO_NAMES;
      byKind.set(kind, hidden);
    }
    return hidden;
  }

  readonly #bridges = new WeakMap<Snapshot, WeakMap<Snapshot, Snapshot>>();

  /**
   * `to`, keeping the clusters (and endpoints) of `from` that it drops (Snapshot.keepingClusters), or `to`
   * itself when it drops none. Shared, so streams at the same point hold one bridge between them.
   */
  keepingClusters(from: Snapshot, to: Snapshot): Snapshot {
    if (from === to) return to;
    let fromTo = this.#bridges.get(to);
    if (!fromTo) this.#bridges.set(to, (fromTo = new WeakMap()));
    let bridge = fromTo.get(from);
    if (!bridge) {
      const dropped = this.changed(from, to, 'cluster').filter((name) => !to.resources('cluster').has(name));
      fromTo.set(from, (bridge = dropped.length === 0 ? to : to.keepingClusters(from, dropped)));
    }
    return bridge;
  }

  /** Names whose existence, version or visibility to wildcard differ between two snapshots. */
  changed(from: Snapshot, to: Snapshot, kind: ResourceKind): readonly string[] {
    let fromTo = this.#changes.get(to);
    if (!fromTo) this.#changes.set(to, (fromTo = new WeakMap()));
    let byKind = fromTo.get(from);
    if (!byKind) fromTo.set(from, (byKind = new Map()));
    let names = byKind.get(kind);
    if (!names) {
      const [before, after] = [from.resources(kind), to.resources(kind)];
      const [hiddenBefore, hiddenAfter] = [this.hidden(from, kind), this.hidden(to, kind)];
      const found: string[] = [];
      for (const [name, resource] of after) {
        if (before.get(name)?.version !== resource.version || hiddenBefore.has(name) !== hiddenAfter.has(name)) found.push(name);
      }
      // A listed resource can give way to a fallback one (Snapshot's NamedFallback): then the version differs.
      const listed = new Set(found);
      for (const [name, resource] of before) if (!listed.has(name) && after.get(name)?.version !== resource.version) found.push(name);
      byKind.set(kind, (names = found));
    }
    return names;
  }
}
