import protobuf from 'protobufjs';

/** The parts of envoy.config.core.v3.Node the server uses. */
export interface NodeInfo {
  id: string;
  cluster: string;
  userAgentName: string;
  userAgentVersion: string;
  metadata: Record<string, unknown>;
  /** The pod and namespace, when the node carries them (metadata, or an id of the form POD.NAMESPACE). */
  pod?: string;
  namespace?: string;
  /** node.locality.zone, when set: the zone whose endpoints come first for models with zone failover. */
  zone?: string;
  /** The Node message as received, echoed back by CSDS. */
  raw: Record<string, unknown>;
}

export interface DiscoveryRequest {
  versionInfo: string;
  node?: NodeInfo;
  /** Shared between requests that name the same list (see NameLists): read, never change. */
  resourceNames: readonly string[];
  typeUrl: string;
  responseNonce: string;
  errorDetail?: { code: number; message: string };
}

export interface DiscoveryResponseParts {
  versionInfo: string;
  resources: readonly Uint8Array[];
  typeUrl: string;
  nonce: string;
  controlPlaneId: string;
}

interface RawNode {
  id?: string;
  cluster?: string;
  user_agent_name?: string;
  user_agent_version?: string;
  user_agent_build_version?: { version?: { major_number?: number; minor_number?: number; patch?: number } };
  metadata?: Record<string, unknown>;
  locality?: { zone?: string };
}

function userAgentVersion(node: RawNode): string {
  if (node.user_agent_version) return node.user_agent_version;
  const version = node.user_agent_build_version?.version;
  return version ? `${version.major_number ?? 0}.${version.minor_number ?? 0}.${version.patch ?? 0}` : '';
}

function metadataString(metadata: Record<string, unknown> | undefined, ...keys: string[]): string | undefined {
  const fields = (metadata as { fields?: Record<string, { string_value?: string }> } | undefined)?.fields;
  for (const key of keys) {
    const value = fields?.[key]?.string_value;
    if (value) return value;
  }
  return undefined;
}

/**
 * Sidecars injected by infermesh run with --service-node POD.NAMESPACE and --service-cluster NAMESPACE;
 * other clients may put POD_NAME / POD_NAMESPACE (or Istio's NAME / NAMESPACE) in the node metadata.
 */
function podOf(node: RawNode): { pod?: string; namespace?: string } {
  const pod = metadataString(node.metadata, 'POD_NAME', 'NAME');
  const namespace = metadataString(node.metadata, 'POD_NAMESPACE', 'NAMESPACE');
  if (pod && namespace) return { pod, namespace };
  const id = node.id ?? '';
  const cluster = node.cluster ?? '';
  if (cluster && id.endsWith(`.${cluster}`)) return { pod: id.slice(0, -cluster.length - 1), namespace: cluster };
  return {};
}

export function toNodeInfo(node: RawNode): NodeInfo {
  return {
    id: node.id ?? '',
    cluster: node.cluster ?? '',
    userAgentName: node.user_agent_name ?? '',
    userAgentVersion: userAgentVersion(node),
    metadata: node.metadata ?? {},
    ...podOf(node),
    ...(node.locality?.zone ? { zone: node.locality.zone } : {}),
    raw: { ...node },
  };
}

/**
 * The resource name lists of recent requests, by their bytes. Envoy names every cluster in each EDS request
 * and again in each ACK, and a thousand proxies name the same thousands: decoding such a list once and
 * handing out the same array lets the subscription see at a glance that nothing changed (Subscription.replace)
 * and lets streams share one set. Bounded in bytes, so varied large lists cannot grow it.
 */
class NameLists {
  readonly #lists = new Map<string, readonly string[]>();
  #bytes = 0;
  static readonly MAX_BYTES = 8 << 20;
  static readonly MAX_LIST_BYTES = 1 << 20;

  get(bytes: Buffer, start: number, end: number): readonly string[] {
    if (end - start > NameLists.MAX_LIST_BYTES) return Object.freeze(readNames(bytes, start, end));
    const key = bytes.toString('latin1', start, end);
    const known = this.#lists.get(key);
    if (known) {
      this.#lists.delete(key);
      this.#lists.set(key, known);
      return known;
    }
    const names = Object.freeze(readNames(bytes, start, end));
    this.#lists.set(key, names);
    this.#bytes += key.length;
    for (const [oldest] of this.#lists) {
      if (this.#bytes <= NameLists.MAX_BYTES) break;
      this.#lists.delete(oldest);
      this.#bytes -= oldest.length;
    }
    return names;
  }
}

/** The strings of consecutive resource_names fields (tag 26) in bytes[start, end). */
function readNames(bytes: Buffer, start: number, end: number): string[] {
  const reader = protobuf.Reader.create(bytes.subarray(start, end));
  const names: string[] = [];
  while (reader.pos < reader.len) {
    reader.uint32();
    names.push(reader.string());
  }
  return names;
}

const NO_NAMES: readonly string[] = Object.freeze([]);

/**
 * Decodes DiscoveryRequest reading only the fields the server uses, by their tags (discovery.proto): the
 * whole-message decode to objects cost more than anything else per request under Envoy-like load. Node and
 * error_detail, which are small, still go through protobufjs so NodeInfo reads exactly as before.
 */
export function discoveryRequestDecoder(root: protobuf.Root): (bytes: Buffer) => DiscoveryRequest {
  const nodeType = root.lookupType('envoy.config.core.v3.Node');
  const statusType = root.lookupType('google.rpc.Status');
  const options = { defaults: false, arrays: true, objects: true };
  const lists = new NameLists();
  return (bytes) => {
    const reader = protobuf.Reader.create(bytes);
    let versionInfo = '';
    let typeUrl = '';
    let responseNonce = '';
    let node: RawNode | undefined;
    let errorDetail: { code?: number; message?: string } | undefined;
    let namesStart = -1;
    let namesEnd = -1;
    let scattered: string[] | undefined;
    while (reader.pos < reader.len) {
      const at = reader.pos;
      const tag = reader.uint32();
      if (tag === 26) {
        if (namesStart < 0) namesStart = at;
        else if (namesEnd !== at) scattered ??= [];
        reader.skipType(2);
        namesEnd = reader.pos;
        continue;
      }
      if (tag === 10) versionInfo = reader.string();
      else if (tag === 34) typeUrl = reader.string();
      else if (tag === 42) responseNonce = reader.string();
      else if (tag === 18) {
        const decoded = nodeType.toObject(nodeType.decode(reader.bytes()), options) as RawNode;
        node = node ? { ...node, ...decoded } : decoded;
      } else if (tag === 50) errorDetail = statusType.toObject(statusType.decode(reader.bytes()), options) as { code?: number; message?: string };
      else reader.skipType(tag & 7);
    }
    let resourceNames = NO_NAMES;
    if (scattered) {
      // Names split by other fields (no encoder Envoy uses does this): read them one by one.
      const all = protobuf.Reader.create(bytes);
      while (all.pos < all.len) {
        const tag = all.uint32();
        if (tag === 26) scattered.push(all.string());
        else all.skipType(tag & 7);
      }
      resourceNames = Object.freeze(scattered);
    } else if (namesStart >= 0) resourceNames = lists.get(bytes, namesStart, namesEnd);
    return {
      versionInfo,
      ...(node ? { node: toNodeInfo(node) } : {}),
      resourceNames,
      typeUrl,
      responseNonce,
      ...(errorDetail ? { errorDetail: { code: errorDetail.code ?? 0, message: errorDetail.message ?? '' } } : {}),
    };
  };
}

/** A finished writer's bytes as a Buffer, without the copy Buffer.from(Uint8Array) would make. */
export function finish(writer: protobuf.Writer): Buffer {
  const bytes = writer.finish();
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Writes a DiscoveryResponse around resources that are already encoded as google.protobuf.Any, so a resource
 * is encoded once per snapshot however many streams receive it. Field numbers from discovery.proto.
 */
export function encodeDiscoveryResponse(parts: DiscoveryResponseParts): Buffer {
  const writer = protobuf.Writer.create();
  writer.uint32((1 << 3) | 2).string(parts.versionInfo);
  for (const resource of parts.resources) writer.uint32((2 << 3) | 2).bytes(resource);
  writer.uint32((4 << 3) | 2).string(parts.typeUrl);
  writer.uint32((5 << 3) | 2).string(parts.nonce);
  writer.uint32((6 << 3) | 2).fork().uint32((1 << 3) | 2).string(parts.controlPlaneId).ldelim();
  return finish(writer);
}
