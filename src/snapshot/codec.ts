import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import type { FieldError } from '../protobuf/field-error.ts';
import { validateMessage } from '../protobuf/pgv.ts';
import { fromProto3Json, toProto3Json } from '../protobuf/proto-json.ts';
import { messageName } from '../envoy/type-urls.ts';
import { lookupTypeCached } from '../protobuf/proto-reflect.ts';
import { Pieces } from './pieces.ts';

/** One xDS resource, checked against Envoy's protos and encoded once, shared by every stream. */
export interface EncodedResource {
  readonly name: string;
  readonly typeUrl: string;
  /** Content hash of the encoded bytes: equal versions mean equal resources. */
  readonly version: string;
  /** The resource wrapped in google.protobuf.Any, ready to be copied into a DiscoveryResponse. */
  readonly any: Uint8Array;
  /** The canonical proto3 JSON form (what `render` prints and CSDS reports); decoded on first use. */
  readonly json: unknown;
}

export type EncodeResult = { ok: true; resource: EncodedResource } | { ok: false; errors: FieldError[] };
export type MessageResult = { ok: true; bytes: Uint8Array } | { ok: false; errors: FieldError[] };

function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  return new Pieces().field(1, typeUrl).field(2, value).finish();
}

/** Remembers values for two generations (snapshots): what the last two used survives, the rest is dropped. */
class GenerationCache<T> {
  #current = new Map<string, T>();
  #previous = new Map<string, T>();

  get(key: string): T | undefined {
    const found = this.#current.get(key) ?? this.#previous.get(key);
    if (found !== undefined) this.#current.set(key, found);
    return found;
  }

  set(key: string, value: T): void {
    this.#current.set(key, value);
  }

  rotate(): void {
    this.#previous = this.#current;
    this.#current = new Map();
  }
}

/**
 * Turns builder output (proto3 JSON) into validated, encoded resources. Remembers what it encoded, keyed by
 * the JSON text, so a resource that did not change is neither re-validated nor re-encoded in the next
 * snapshot; `remember` does the same for whole per-model results.
 */
export class ResourceCodec {
  readonly root: protobuf.Root;
  readonly #resources = new GenerationCache<EncodedResource>();
  readonly #messages = new GenerationCache<MessageResult>();
  readonly #memo = new GenerationCache<unknown>();
  #encodeSeconds = 0;

  constructor(root: protobuf.Root) {
    this.root = root;
  }

  /** Validates and encodes one message (e.g. a Route) without wrapping it as a resource; cached. */
  encodeMessage(typeName: string, json: unknown): MessageResult {
    const key = `${typeName}\n${JSON.stringify(json)}`;
    const cached = this.#messages.get(key);
    if (cached) return cached;
    const result = this.#timed(() => this.#encodeFresh(typeName, json));
    this.#messages.set(key, result);
    return result;
  }

  encode(typeUrl: string, name: string, json: unknown): EncodeResult {
    const key = `${typeUrl}\n${JSON.stringify(json)}`;
    const cached = this.#resources.get(key);
    if (cached) return { ok: true, resource: cached };
    const encoded = this.encodeMessage(messageName(typeUrl), json);
    if (!encoded.ok) return encoded;
    const resource = this.fromBytes(typeUrl, name, encoded.bytes);
    this.#resources.set(key, resource);
    return { ok: true, resource };
  }

  /** A resource from message bytes assembled elsewhere (already valid by construction). */
  fromBytes(typeUrl: string, name: string, value: Uint8Array): EncodedResource {
    const root = this.root;
    const typeName = messageName(typeUrl);
    let json: unknown;
    return {
      name,
      typeUrl,
      version: createHash('sha256').update(value).digest('hex').slice(0, 16),
      any: encodeAny(typeUrl, value),
      get json() {
        json ??= toProto3Json(root, typeName, root.lookupType(typeName).decode(value));
        return json;
      },
    };
  }

  /** Per-key memo for derived results (a model's encoded resources), with the same two-generation lifetime. */
  remember<T>(key: string, compute: () => T): T {
    const cached = this.#memo.get(key);
    if (cached !== undefined) return cached as T;
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

  #encodeFresh(typeName: string, json: unknown): MessageResult {
    const parsed = fromProto3Json(this.root, typeName, json);
    if (!parsed.message || parsed.errors.length > 0) return { ok: false, errors: parsed.errors };
    const errors = validateMessage(this.root, typeName, parsed.message);
    if (errors.length > 0) return { ok: false, errors };
    return { ok: true, bytes: lookupTypeCached(this.root, typeName).encode(parsed.message).finish() };
  }
}
