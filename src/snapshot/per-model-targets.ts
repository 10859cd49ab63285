import { apiListener } from '../envoy/listener.ts';
import { nameOfModelTable } from '../envoy/names.ts';
import { unknownModelTableRoute, VIRTUAL_HOST } from '../envoy/route-config.ts';
import { TYPE_URLS, type ResourceKind } from '../envoy/type-urls.ts';
import type { MeshSettings } from '../model/types.ts';
import type { EncodedResource, ResourceCodec } from './codec.ts';
import { ROUTE_TYPE } from './encode-model.ts';
import { routeConfigurationBytes } from './route-bytes.ts';
import type { NamedFallback } from './snapshot.ts';

/** Client-chosen names are remembered up to this many; past it the oldest is built again when asked. */
const REMEMBERED_NAMES = 4096;
/** Longer names are not answered (a model name is a DNS-1123 subdomain, at most 253 characters). */
const MAX_NAME_LENGTH = 253;

/**
 * What a proxyless client dialling xds:///<grpc target>/<name> is answered for any name: the API listener
 * (it depends on the name alone) and, when no model answers to the name, a table that fails every call with
 * NOT_FOUND. The snapshot lists the tables of the names that exist; these fill in the rest (NamedFallback).
 */
export class PerModelTargets {
  readonly #settings: MeshSettings;
  readonly #codec: ResourceCodec;
  readonly #unknownRoute: Uint8Array;
  readonly #built = new Map<string, EncodedResource>();

  constructor(codec: ResourceCodec, settings: MeshSettings) {
    this.#codec = codec;
    this.#settings = settings;
    const route = codec.encodeMessage(ROUTE_TYPE, unknownModelTableRoute());
    if (!route.ok) throw new Error(`infermesh generated an invalid unknown-model route: ${route.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
    this.#unknownRoute = route.bytes;
  }

  readonly fallback: NamedFallback = (kind, name) => {
    if (kind !== 'listener' && kind !== 'route') return undefined;
    const model = nameOfModelTable(this.#settings.grpcTarget, name);
    if (model === undefined || name.length > MAX_NAME_LENGTH) return undefined;
    return this.#remembered(kind, name);
  };

  #remembered(kind: ResourceKind, name: string): EncodedResource | undefined {
    const key = `${kind}\n${name}`;
    let resource = this.#built.get(key);
    if (resource === undefined) {
      resource = kind === 'listener' ? this.#listener(name) : this.#unknownTable(name);
      if (resource === undefined) return undefined;
      if (this.#built.size >= REMEMBERED_NAMES) this.#built.delete(this.#built.keys().next().value ?? '');
      this.#built.set(key, resource);
    }
    return resource;
  }

  #listener(name: string): EncodedResource | undefined {
    const encoded = this.#codec.encode(TYPE_URLS.listener, name, apiListener(name));
    return encoded.ok ? encoded.resource : undefined;
  }

  #unknownTable(name: string): EncodedResource {
    return this.#codec.fromBytes(TYPE_URLS.route, name, routeConfigurationBytes(name, VIRTUAL_HOST, [this.#unknownRoute]));
  }
}
