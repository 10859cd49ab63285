import type { ResourceKind } from '../envoy/type-urls.ts';
import type { Snapshot } from '../snapshot/snapshot.ts';

const NO_NAMES: ReadonlySet<string> = new Set();

/** Facts about snapshots that every delta stream needs, computed once and shared (the server owns one). */
export class SnapshotDiffer {
  readonly #hidden = new WeakMap<Snapshot, Map<ResourceKind, ReadonlySet<string>>>();
  readonly #changes = new WeakMap<Snapshot, { from: Snapshot; byKind: Map<ResourceKind, readonly string[]> }>();

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

  /** Names whose existence, version or visibility to wildcard differ between two snapshots. */
  changed(from: Snapshot, to: Snapshot, kind: ResourceKind): readonly string[] {
    let entry = this.#changes.get(to);
    if (!entry || entry.from !== from) this.#changes.set(to, (entry = { from, byKind: new Map() }));
    let names = entry.byKind.get(kind);
    if (!names) {
      const [before, after] = [from.resources(kind), to.resources(kind)];
      const [hiddenBefore, hiddenAfter] = [this.hidden(from, kind), this.hidden(to, kind)];
      const found: string[] = [];
      for (const [name, resource] of after) {
        if (before.get(name)?.version !== resource.version || hiddenBefore.has(name) !== hiddenAfter.has(name)) found.push(name);
      }
      for (const name of before.keys()) if (!after.has(name)) found.push(name);
      entry.byKind.set(kind, (names = found));
    }
    return names;
  }
}
