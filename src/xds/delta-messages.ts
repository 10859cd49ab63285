import protobuf from 'protobufjs';
import { finish, toNodeInfo, type NodeInfo } from './messages.ts';

/** envoy.service.discovery.v3.DeltaDiscoveryRequest, the fields infermesh uses (discovery.proto). */
export interface DeltaDiscoveryRequest {
  node?: NodeInfo;
  typeUrl: string;
  resourceNamesSubscribe: string[];
  resourceNamesUnsubscribe: string[];
  /** Only on the first request of a type on a reconnected stream: name -> version the client already has. */
  initialResourceVersions: ReadonlyMap<string, string>;
  responseNonce: string;
  /** Present on a NACK. */
  errorDetail?: { code: number; message: string };
}

/** One envoy.service.discovery.v3.Resource, its payload already encoded as google.protobuf.Any. */
export interface DeltaResourceParts {
  name: string;
  version: string;
  any: Uint8Array;
}

export interface DeltaDiscoveryResponseParts {
  systemVersionInfo: string;
  /** Resources to encode, or Resource messages already encoded with `encodeDeltaResource`. */
  resources: readonly (DeltaResourceParts | Uint8Array)[];
  typeUrl: string;
  removed: readonly string[];
  nonce: string;
  controlPlaneId: string;
}

type RawNode = Parameters<typeof toNodeInfo>[0];

interface RawDeltaRequest {
  node?: RawNode;
  type_url?: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  initial_resource_versions?: Record<string, string>;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
}

/** Decodes DeltaDiscoveryRequest with Envoy's own message type; only the outer message is mapped by hand. */
export function deltaRequestDecoder(root: protobuf.Root): (bytes: Buffer) => DeltaDiscoveryRequest {
  const type = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  return (bytes) => {
    const raw = type.toObject(type.decode(bytes), { defaults: false, arrays: true, objects: true }) as RawDeltaRequest;
    return {
      ...(raw.node ? { node: toNodeInfo(raw.node) } : {}),
      typeUrl: raw.type_url ?? '',
      resourceNamesSubscribe: raw.resource_names_subscribe ?? [],
      resourceNamesUnsubscribe: raw.resource_names_unsubscribe ?? [],
      initialResourceVersions: new Map(Object.entries(raw.initial_resource_versions ?? {})),
      responseNonce: raw.response_nonce ?? '',
      ...(raw.error_detail ? { errorDetail: { code: raw.error_detail.code ?? 0, message: raw.error_detail.message ?? '' } } : {}),
    };
  };
}

/**
 * Encodes one Resource (version = 1, resource = 2, name = 3) around Any bytes encoded once per snapshot.
 * The result can be cached per resource and passed to `encodeDeltaDiscoveryResponse` as is.
 */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array): Uint8Array {
  const writer = protobuf.Writer.create();
  if (version !== '') writer.uint32((1 << 3) | 2).string(version);
  writer.uint32((2 << 3) | 2).bytes(any);
  writer.uint32((3 << 3) | 2).string(name);
  return writer.finish();
}

/**
 * Writes a DeltaDiscoveryResponse by hand (system_version_info = 1, resources = 2, type_url = 4, nonce = 5,
 * removed_resources = 6, control_plane = 7), so no resource is re-encoded per stream.
 */
export function encodeDeltaDiscoveryResponse(parts: DeltaDiscoveryResponseParts): Buffer {
  const writer = protobuf.Writer.create();
  if (parts.systemVersionInfo !== '') writer.uint32((1 << 3) | 2).string(parts.systemVersionInfo);
  for (const resource of parts.resources) {
    const bytes = resource instanceof Uint8Array ? resource : encodeDeltaResource(resource.name, resource.version, resource.any);
    writer.uint32((2 << 3) | 2).bytes(bytes);
  }
  writer.uint32((4 << 3) | 2).string(parts.typeUrl);
  writer.uint32((5 << 3) | 2).string(parts.nonce);
  for (const name of parts.removed) writer.uint32((6 << 3) | 2).string(name);
  writer.uint32((7 << 3) | 2).fork().uint32((1 << 3) | 2).string(parts.controlPlaneId).ldelim();
  return finish(writer);
}

/** Encoded Resource messages per EncodedResource object, shared by every delta stream (owned by the server). */
export class DeltaResourceCache {
  readonly #bytes = new WeakMap<DeltaResourceParts, Uint8Array>();

  bytes(resource: DeltaResourceParts): Uint8Array {
    let bytes = this.#bytes.get(resource);
    if (!bytes) {
      bytes = encodeDeltaResource(resource.name, resource.version, resource.any);
      this.#bytes.set(resource, bytes);
    }
    return bytes;
  }
}
