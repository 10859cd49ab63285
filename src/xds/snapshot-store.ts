import type { Snapshot } from '../snapshot/snapshot.ts';

/** The seam between the pipeline and the xDS server: the server reads snapshots and hears of new ones. */
export interface SnapshotSource {
  current(): Snapshot | undefined;
  subscribe(listener: (snapshot: Snapshot) => void): () => void;
}

/** Holds the latest snapshot; the controller sets it, xDS streams read it. */
export class SnapshotStore implements SnapshotSource {
  #current: Snapshot | undefined;
  readonly #listeners = new Set<(snapshot: Snapshot) => void>();

  current(): Snapshot | undefined {
    return this.#current;
  }

  set(snapshot: Snapshot): void {
    this.#current = snapshot;
    for (const listener of this.#listeners) listener(snapshot);
  }

  subscribe(listener: (snapshot: Snapshot) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
