/**
 * Encoded responses shared between streams. Streams that connect together (a reconnect storm, a rollout of
 * the control plane) ask for the same types in the same order, so they are sent the same resources under the
 * same per-stream nonce: the same message, byte for byte. Encoding it once instead of per stream spares a
 * multi-megabyte copy per proxy. A hit needs the same key and the very same resource objects, in order.
 */
export class EncodedResponseCache<Item> {
  readonly #entries = new Map<string, { items: readonly Item[]; message: Buffer }>();
  readonly #limit: number;

  constructor(limit = 16) {
    this.#limit = limit;
  }

  get(key: string, items: readonly Item[], encode: () => Buffer): Buffer {
    const hit = this.#entries.get(key);
    this.#entries.delete(key);
    const message = hit && sameItems(hit.items, items) ? hit.message : encode();
    this.#entries.set(key, { items, message });
    if (this.#entries.size > this.#limit) this.#entries.delete(this.#entries.keys().next().value as string);
    return message;
  }
}

function sameItems<Item>(a: readonly Item[], b: readonly Item[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}
