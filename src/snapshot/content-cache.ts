import { createHash } from 'node:crypto';
import { GenerationCache } from './generation-cache.ts';

/** A short digest standing for a long key text, so a cache keeps 44 characters per entry, not the text. */
export function digestKey(text: string): string {
  return createHash('sha256').update(text).digest('base64');
}

/**
 * Values computed from a JSON document, found again by the document's content: the key is a digest of its
 * text, not the text, so 30,000 cached routes do not keep 30,000 copies of their JSON alive as keys.
 */
export class ContentCache<V> {
  readonly #entries = new GenerationCache<string, V>();

  get(kind: string, json: unknown, compute: () => V): V {
    const key = digestKey(`${kind}\n${JSON.stringify(json)}`);
    const cached = this.#entries.get(key);
    if (cached !== undefined) return cached;
    const value = compute();
    this.#entries.set(key, value);
    return value;
  }

  rotate(): void {
    this.#entries.rotate();
  }
}
