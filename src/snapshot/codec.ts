import type protobuf from 'protobufjs';
import type { FieldError } from '../protobuf/field-error.ts';
import { messageName } from '../envoy/type-urls.ts';
import { ContentCache } from './content-cache.ts';
import { encodedResource, type EncodedResource } from './encoded-resource.ts';
import { GenerationCache } from './generation-cache.ts';
import type { Pieces } from './pieces.ts';
import { validateAndEncode, type MessageResult } from './validate-encode.ts';

export type { EncodedResource } from './encoded-resource.ts';
export type { MessageResult } from './validate-encode.ts';
export type EncodeResult = { ok: true; resource: EncodedResource } | { ok: false; errors: FieldError[] };

/**
 * What the snapshot pipeline encodes through: validate+encode (validate-encode.ts) behind a content cache, so
 * a resource that did not change is neither re-validated nor re-encoded in the next snapshot, and a memo for
 * derived results (a model's encoded resources). Everything lives two generations (see generation-cache.ts).
 */
export class ResourceCodec {
  readonly root: protobuf.Root;
  readonly #messages = new ContentCache<MessageResult>();
  readonly #resources = new ContentCache<EncodeResult>();
  readonly #memo = new GenerationCache<string | object, unknown>();
  #encodeSeconds = 0;

  constructor(root: protobuf.Root) {
    this.root = root;
  }

  /** Validates and encodes one message (e.g. a Route) without wrapping it as a resource; cached. */
  encodeMessage(typeName: string, json: unknown): MessageResult {
    return this.#messages.get(typeName, json, () => this.#timed(() => validateAndEncode(this.root, typeName, json)));
  }

  /** Validates and encodes one resource; an unchanged one comes back as the same object. */
  encode(typeUrl: string, name: string, json: unknown): EncodeResult {
    return this.#resources.get(`${typeUrl}\n${name}`, json, () => {
      const encoded = this.#timed(() => validateAndEncode(this.root, messageName(typeUrl), json));
      return encoded.ok ? { ok: true, resource: this.fromBytes(typeUrl, name, encoded.bytes) } : encoded;
    });
  }

  /** A resource from message bytes assembled elsewhere (already valid by construction). */
  fromBytes(typeUrl: string, name: string, value: Uint8Array | Pieces, version?: string): EncodedResource {
    return encodedResource(this.root, typeUrl, name, value, version);
  }

  /**
   * Per-key memo for derived results, with the same two-generation lifetime. An object key is compared by
   * identity (no key text to build); a string key by content. `fresh` can refuse a remembered value.
   */
  remember<T>(key: string | object, compute: () => T, fresh: (cached: T) => boolean = () => true): T {
    const cached = this.#memo.get(key) as T | undefined;
    if (cached !== undefined && fresh(cached)) return cached;
    const value = compute();
    this.#memo.set(key, value);
    return value;
  }

  /** Seconds spent validating and encoding (cache misses) since the last call. */
  takeEncodeSeconds(): number {
    const seconds = this.#encodeSeconds;
    this.#encodeSeconds = 0;
    return seconds;
  }

  /** Call after each snapshot: entries not used by the last two snapshots are dropped, bounding memory. */
  endGeneration(): void {
    this.#resources.rotate();
    this.#messages.rotate();
    this.#memo.rotate();
  }

  #timed<T>(work: () => T): T {
    const started = performance.now();
    try {
      return work();
    } finally {
      this.#encodeSeconds += (performance.now() - started) / 1000;
    }
  }
}
