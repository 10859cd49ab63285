import { createHash } from 'node:crypto';
import protobuf from 'protobufjs';
import type { FieldError } from '../envoy/field-error.ts';
import { validateMessage } from '../envoy/pgv.ts';
import { fromProto3Json, toProto3Json } from '../envoy/proto-json.ts';
import { messageName } from '../envoy/type-urls.ts';

/** One xDS resource, checked against Envoy's protos and encoded once, shared by every stream. */
export interface EncodedResource {
  readonly name: string;
  readonly typeUrl: string;
  /** Content hash of the encoded bytes: equal versions mean equal resources. */
  readonly version: string;
  /** The resource wrapped in google.protobuf.Any, ready to be copied into a DiscoveryResponse. */
  readonly any: Uint8Array;
  /** The canonical proto3 JSON form (what `render` prints and CSDS reports). */
  readonly json: unknown;
}

export type EncodeResult = { ok: true; resource: EncodedResource } | { ok: false; errors: FieldError[] };

function encodeAny(typeUrl: string, value: Uint8Array): Uint8Array {
  return protobuf.Writer.create().uint32(10).string(typeUrl).uint32(18).bytes(value).finish();
}

/**
 * Turns builder output (proto3 JSON) into validated, encoded resources. Remembers what it encoded, keyed by
 * the JSON text, so a resource that did not change is neither re-validated nor re-encoded in the next snapshot.
 */
export class ResourceCodec {
  readonly root: protobuf.Root;
  #cache = new Map<string, EncodedResource>();
  #previousCache = new Map<string, EncodedResource>();
  #encodeSeconds = 0;

  constructor(root: protobuf.Root) {
    this.root = root;
  }

  /** Checks a JSON fragment (e.g. one Route) against a message type without encoding it. */
  check(typeName: string, json: unknown): FieldError[] {
    const parsed = fromProto3Json(this.root, typeName, json);
    if (!parsed.message) return parsed.errors;
    return [...parsed.errors, ...validateMessage(this.root, typeName, parsed.message)];
  }

  encode(typeUrl: string, name: string, json: unknown): EncodeResult {
    const key = `${typeUrl}\n${JSON.stringify(json)}`;
    const cached = this.#cache.get(key) ?? this.#previousCache.get(key);
    if (cached) {
      this.#cache.set(key, cached);
      return { ok: true, resource: cached };
    }
    const started = performance.now();
    try {
      return this.#encodeFresh(key, typeUrl, name, json);
    } finally {
      this.#encodeSeconds += (performance.now() - started) / 1000;
    }
  }

  /** Seconds spent validating and encoding (cache misses) since the last call. */
  takeEncodeSeconds(): number {
    const seconds = this.#encodeSeconds;
    this.#encodeSeconds = 0;
    return seconds;
  }

  #encodeFresh(key: string, typeUrl: string, name: string, json: unknown): EncodeResult {
    const typeName = messageName(typeUrl);
    const parsed = fromProto3Json(this.root, typeName, json);
    if (!parsed.message || parsed.errors.length > 0) return { ok: false, errors: parsed.errors };
    const errors = validateMessage(this.root, typeName, parsed.message);
    if (errors.length > 0) return { ok: false, errors };
    const type = this.root.lookupType(typeName);
    const value = type.encode(parsed.message).finish();
    const resource: EncodedResource = {
      name,
      typeUrl,
      version: createHash('sha256').update(value).digest('hex').slice(0, 16),
      any: encodeAny(typeUrl, value),
      json: toProto3Json(this.root, typeName, type.decode(value)),
    };
    this.#cache.set(key, resource);
    return { ok: true, resource };
  }

  /** Call after each snapshot: entries not used by the last two snapshots are dropped, bounding memory. */
  endGeneration(): void {
    this.#previousCache = this.#cache;
    this.#cache = new Map();
  }
}
