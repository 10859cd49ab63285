import type protobuf from 'protobufjs';
import type { FieldError } from '../protobuf/field-error.ts';
import { messageName } from '../envoy/type-urls.ts';
import { encodedResource, type EncodedResource } from './encoded-resource.ts';
import { GenerationCache } from './generation-cache.ts';
import type { Pieces } from './pieces.ts';
import { validateAndEncode, type MessageResult } from './validate-encode.ts';

export type { EncodedResource } from './encoded-resource.ts';
export type { MessageResult } from './validate-encode.ts';
export type EncodeResult = { ok: true; resource: EncodedResource } | { ok: false; errors: FieldError[] };

/**
 * What the snapshot pipeline encodes through: validate+encode (validate-encode.ts), timed, and a memo for
 * derived results (a model's encoded resources) that lives two generations (see generation-cache.ts). What
 * did not change is found in the memo by its inputs (encode-model.ts), so nothing here hashes a resource's
 * content to find it again.
 */
export class ResourceCodec {
  readonly root: protobuf.Root;
  readonly #memo = new GenerationCache<string | object, unknown>();
  #encodeSeconds = 0;

  constructor(root: protobuf.Root) {
    this.root = root;
  }

  /** Validates and encodes one message (e.g. a Route) without wrapping it as a resource. */
  encodeMessage(typeName: string, json: unknown): MessageResult {
    return this.#timed(() => validateAndEncode(this.root, typeName, json));
  }

  /** Validates and encodes one resource. */
  encode(typeUrl: string, name: string, json: unknown): EncodeResult {
    const encoded = this.encodeMessage(messageName(typeUrl), json);
    return encoded.ok ? { ok: true, resource: this.fromBytes(typeUrl, name, encoded.bytes) } : encoded;
  }

  /** A resource from message bytes assembled elsewhere (already valid by construction). */
  fromBytes(typeUrl: string, name: string, value: Uint8Array | Pieces, version?: string): EncodedResource {
    return encodedResource(this.root, typeUrl, name, value, version);
  }

  /**
   * Per-key memo for derived results, with the same two-generation lifetime. An object key is compared by
   * identity (no key text to build); a string key by content. `fresh` can refuse a remembered value, which
   * `compute` is then handed (stale) to reuse what of it still holds.
   */
  remember<T>(key: string | object, compute: (stale: T | undefined) => T, fresh: (cached: T) => boolean = () => true): T {
    const cached = this.#memo.get(key) as T | undefined;
    if (cached !== undefined && fresh(cached)) return cached;
    const value = compute(cached);
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
