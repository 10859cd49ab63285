/**
 * Remembers values for two generations (snapshots): what the last two snapshots used survives a rotation,
 * the rest is dropped. Keys may be strings or objects (then compared by identity).
 */
export class GenerationCache<K, V> {
  #current = new Map<K, V>();
  #previous = new Map<K, V>();

  get(key: K): V | undefined {
    const found = this.#current.get(key) ?? this.#previous.get(key);
    if (found !== undefined) this.#current.set(key, found);
    return found;
  }

  /** A new value for a key replaces the old one in both generations: no older value outlives it. */
  set(key: K, value: V): void {
    this.#current.set(key, value);
    this.#previous.delete(key);
  }

  /** Starts a new generation: entries not used since the previous call are dropped at the next one. */
  rotate(): void {
    this.#previous = this.#current;
    this.#current = new Map();
  }
}
