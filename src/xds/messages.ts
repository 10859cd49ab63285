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
  /** The Node message as received, echoed back by CSDS. */
  raw: Record<string, unknown>;
}

export interface DiscoveryRequest {
  versionInfo: string;
  node?: NodeInfo;
  resourceNames: string[];
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
}

interface RawRequest {
  version_info?: string;
  node?: RawNode;
  resource_names?: string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string };
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
    raw: { ...node },
  };
}

/** Decodes DiscoveryRequest with Envoy's own message type; only the outer message is mapped by hand. */
export function discoveryRequestDecoder(root: protobuf.Root): (bytes: Buffer) => DiscoveryRequest {
  const type = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  return (bytes) => {
    const raw = type.toObject(type.decode(bytes), { defaults: false, arrays: true, objects: true }) as RawRequest;
    return {
      versionInfo: raw.version_info ?? '',
      ...(raw.node ? { node: toNodeInfo(raw.node) } : {}),
      resourceNames: raw.resource_names ?? [],
      typeUrl: raw.type_url ?? '',
      responseNonce: raw.response_nonce ?? '',
      ...(raw.error_detail ? { errorDetail: { code: raw.error_detail.code ?? 0, message: raw.error_detail.message ?? '' } } : {}),
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
