import { createHash } from 'node:crypto';
import { GenerationCache } from './generation-cache.ts';

/**
 * Values computed from a JSON document, found again by the document's content: the key is a digest of its
 * text, not the text, so 30,000 cached routes do not keep 30,000 copies of their JSON alive as keys.
 */
export class ContentCache<V> {
  readonly #entries = new GenerationCache<string, V>();

  get(kind: string, json: unknown, compute: () => V): V {
    const key = createHash('sha256').update(kind).update('\n').update(JSON.stringify(json)).digest('base64');
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
