import type { ConfigMapObject, EndpointSliceEndpoint, EndpointSliceObject } from './types.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

type Raw = Record<string, unknown>;

function isRecord(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, typeof v === 'string' ? v : String(v)]));
}

function metadataOf(raw: Raw): Raw {
  return isRecord(raw['metadata']) ? raw['metadata'] : {};
}

export type Converted =
  | { kind: 'ConfigMap'; object: ConfigMapObject }
  | { kind: 'EndpointSlice'; object: EndpointSliceObject }
  | { kind: 'ignored' }
  | { kind: 'error'; message: string };

export function toConfigMap(raw: Raw, origin: string, fallbackCreatedAt: string): ConfigMapObject {
  const metadata = metadataOf(raw);
  return {
    namespace: typeof metadata['namespace'] === 'string' ? metadata['namespace'] : 'default',
    name: String(metadata['name']),
    labels: stringMap(metadata['labels']),
    data: stringMap(raw['data']),
    creationTimestamp: typeof metadata['creationTimestamp'] === 'string' ? metadata['creationTimestamp'] : fallbackCreatedAt,
    ...(typeof metadata['resourceVersion'] === 'string' ? { resourceVersion: metadata['resourceVersion'] } : {}),
    ...(typeof metadata['uid'] === 'string' ? { uid: metadata['uid'] } : {}),
    origin,
  };
}

function toEndpoint(raw: unknown): EndpointSliceEndpoint {
  const endpoint = isRecord(raw) ? raw : {};
  const conditions = isRecord(endpoint['conditions']) ? endpoint['conditions'] : {};
  // Kubernetes: a nil `ready` means ready; `serving` defaults to `ready`; `terminating` to false.
  const ready = conditions['ready'] !== false;
  const targetRef = isRecord(endpoint['targetRef']) ? endpoint['targetRef'] : {};
  return {
    addresses: Array.isArray(endpoint['addresses']) ? endpoint['addresses'].map(String) : [],
    ready,
    serving: typeof conditions['serving'] === 'boolean' ? conditions['serving'] : ready,
    terminating: conditions['terminating'] === true,
    ...(typeof endpoint['zone'] === 'string' ? { zone: endpoint['zone'] } : {}),
    ...(typeof endpoint['nodeName'] === 'string' ? { nodeName: endpoint['nodeName'] } : {}),
    ...(targetRef['kind'] === 'Pod' && typeof targetRef['name'] === 'string' ? { podName: targetRef['name'] } : {}),
  };
}

export function toEndpointSlice(raw: Raw, origin: string): EndpointSliceObject | string {
  const metadata = metadataOf(raw);
  const labels = stringMap(metadata['labels']);
  const serviceName = labels[SERVICE_NAME_LABEL];
  if (!serviceName) return `EndpointSlice ${String(metadata['name'])} has no "${SERVICE_NAME_LABEL}" label, so no Service owns it`;
  const ports = Array.isArray(raw['ports']) ? raw['ports'].filter(isRecord) : [];
  return {
    namespace: typeof metadata['namespace'] === 'string' ? metadata['namespace'] : 'default',
    name: String(metadata['name']),
    serviceName,
    addressType: typeof raw['addressType'] === 'string' ? raw['addressType'] : 'IPv4',
    ports: ports
      .filter((port) => typeof port['port'] === 'number')
      .map((port) => ({
        port: Number(port['port']),
        ...(typeof port['name'] === 'string' && port['name'] !== '' ? { name: port['name'] } : {}),
        ...(typeof port['protocol'] === 'string' ? { protocol: port['protocol'] } : {}),
      })),
    endpoints: Array.isArray(raw['endpoints']) ? raw['endpoints'].map(toEndpoint) : [],
    origin,
  };
}

/** Classifies one parsed YAML document; `List` kinds are expanded by the caller. */
export function convertObject(raw: unknown, origin: string, fallbackCreatedAt: string): Converted {
  if (!isRecord(raw)) return { kind: 'error', message: 'not a Kubernetes object (expected a mapping with apiVersion and kind)' };
  const metadata = metadataOf(raw);
  if (raw['kind'] === 'ConfigMap' && raw['apiVersion'] === 'v1') {
    if (typeof metadata['name'] !== 'string') return { kind: 'error', message: 'ConfigMap without metadata.name' };
    return { kind: 'ConfigMap', object: toConfigMap(raw, origin, fallbackCreatedAt) };
  }
  if (raw['kind'] === 'EndpointSlice' && raw['apiVersion'] === 'discovery.k8s.io/v1') {
    if (typeof metadata['name'] !== 'string') return { kind: 'error', message: 'EndpointSlice without metadata.name' };
    const slice = toEndpointSlice(raw, origin);
    return typeof slice === 'string' ? { kind: 'error', message: slice } : { kind: 'EndpointSlice', object: slice };
  }
  return { kind: 'ignored' };
}

export function isKubeList(raw: unknown): raw is { items: unknown[] } {
  return isRecord(raw) && typeof raw['kind'] === 'string' && raw['kind'].endsWith('List') && Array.isArray(raw['items']);
}
