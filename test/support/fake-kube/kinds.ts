/** The resources the fake serves, the URL paths they live at, and the two wire forms of Events. */

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

export type KindName = 'ConfigMap' | 'EndpointSlice' | 'Event' | 'Lease' | 'Namespace';

type FieldGetter = (object: KubeObject) => unknown;

export interface KindInfo {
  kind: KindName;
  namespaced: boolean;
  /** PUT of a missing object creates it (true for Events only, among these). */
  createOnUpdate: boolean;
  /** Field selector labels beyond metadata.name / metadata.namespace. */
  fields: Record<string, FieldGetter>;
}

/** One API group/version's view of a kind: where it is served and how it looks on the wire there. */
export interface ResourceView {
  info: KindInfo;
  group: string;
  version: string;
  resource: string;
  apiVersion: string;
  /** Stored (internal) form to this version's wire form. */
  toWire(object: KubeObject): KubeObject;
  /** This version's wire form to the stored form. */
  fromWire(object: KubeObject): KubeObject;
}

const path = (...keys: string[]): FieldGetter => (object) => keys.reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], object);

const eventFields: Record<string, FieldGetter> = {
  'involvedObject.kind': path('involvedObject', 'kind'),
  'involvedObject.namespace': path('involvedObject', 'namespace'),
  'involvedObject.name': path('involvedObject', 'name'),
  'involvedObject.uid': path('involvedObject', 'uid'),
  'involvedObject.apiVersion': path('involvedObject', 'apiVersion'),
  'involvedObject.resourceVersion': path('involvedObject', 'resourceVersion'),
  'involvedObject.fieldPath': path('involvedObject', 'fieldPath'),
  reason: path('reason'),
  reportingComponent: path('reportingComponent'),
  source: path('source', 'component'),
  type: path('type'),
};

export const KINDS: Record<KindName, KindInfo> = {
  ConfigMap: { kind: 'ConfigMap', namespaced: true, createOnUpdate: false, fields: {} },
  EndpointSlice: { kind: 'EndpointSlice', namespaced: true, createOnUpdate: false, fields: {} },
  Event: { kind: 'Event', namespaced: true, createOnUpdate: true, fields: eventFields },
  Lease: { kind: 'Lease', namespaced: true, createOnUpdate: false, fields: {} },
  Namespace: { kind: 'Namespace', namespaced: false, createOnUpdate: false, fields: { 'status.phase': path('status', 'phase') } },
};

/** core/v1 Event field <-> events.k8s.io/v1 Event field (the API server converts between the two). */
const EVENTS_V1_RENAMES: [core: string, eventsV1: string][] = [
  ['involvedObject', 'regarding'],
  ['message', 'note'],
  ['source', 'deprecatedSource'],
  ['firstTimestamp', 'deprecatedFirstTimestamp'],
  ['lastTimestamp', 'deprecatedLastTimestamp'],
  ['count', 'deprecatedCount'],
  ['reportingComponent', 'reportingController'],
];

function rename(object: KubeObject, pairs: [string, string][], apiVersion: string): KubeObject {
  const out: KubeObject = Object.assign({ apiVersion, kind: 'Event' }, object, { apiVersion, kind: 'Event' });
  for (const [from, to] of pairs) {
    delete out[from];
    if (object[from] !== undefined) out[to] = object[from];
  }
  return out;
}

function view(info: KindInfo, group: string, version: string, resource: string, toWire?: (o: KubeObject) => KubeObject, fromWire?: (o: KubeObject) => KubeObject): ResourceView {
  const apiVersion = group ? `${group}/${version}` : version;
  return {
    info,
    group,
    version,
    resource,
    apiVersion,
    toWire: toWire ?? ((object) => Object.assign({ apiVersion, kind: info.kind }, object, { apiVersion, kind: info.kind })),
    fromWire: fromWire ?? ((object) => Object.assign({ apiVersion, kind: info.kind }, object, { apiVersion, kind: info.kind })),
  };
}

const swapped = EVENTS_V1_RENAMES.map(([core, v1]): [string, string] => [v1, core]);

export const VIEWS: readonly ResourceView[] = [
  view(KINDS.ConfigMap, '', 'v1', 'configmaps'),
  view(KINDS.Namespace, '', 'v1', 'namespaces'),
  view(KINDS.Event, '', 'v1', 'events'),
  view(
    KINDS.Event,
    'events.k8s.io',
    'v1',
    'events',
    (object) => rename(object, EVENTS_V1_RENAMES, 'events.k8s.io/v1'),
    (object) => rename(object, swapped, 'v1'),
  ),
  view(KINDS.EndpointSlice, 'discovery.k8s.io', 'v1', 'endpointslices'),
  view(KINDS.Lease, 'coordination.k8s.io', 'v1', 'leases'),
];

/** The view in which a kind is stored (and which the in-process control API speaks). */
export function storageView(kind: KindName): ResourceView {
  const found = VIEWS.find((v) => v.info.kind === kind);
  if (!found) throw new Error(`unknown kind ${kind}`);
  return found;
}

/** `configmaps` or `leases.coordination.k8s.io`, as the API server names resources in messages. */
export function qualifiedResource(v: ResourceView): string {
  return v.group ? `${v.resource}.${v.group}` : v.resource;
}

export interface ParsedPath {
  view: ResourceView;
  /** undefined for a cluster-wide (all namespaces) request on a namespaced resource. */
  namespace: string | undefined;
  name: string | undefined;
}

/**
 * `/api/v1/[namespaces/{ns}/]{resource}[/{name}]` and `/apis/{group}/{version}/...`. Subresources
 * and unknown resources give undefined (404).
 */
export function parsePath(pathname: string): ParsedPath | undefined {
  const segments = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  let group: string;
  let rest: string[];
  if (segments[0] === 'api') {
    group = '';
    rest = segments.slice(1);
  } else if (segments[0] === 'apis') {
    group = segments[1] ?? '';
    rest = segments.slice(2);
  } else {
    return undefined;
  }
  const [version, ...tail] = rest;
  let namespace: string | undefined;
  let resourceAndName = tail;
  if (tail[0] === 'namespaces' && tail.length >= 3) {
    namespace = tail[1];
    resourceAndName = tail.slice(2);
  }
  if (resourceAndName.length < 1 || resourceAndName.length > 2) return undefined;
  const [resource, name] = resourceAndName;
  const found = VIEWS.find((v) => v.group === group && v.version === version && v.resource === resource);
  if (!found) return undefined;
  if (namespace !== undefined && !found.info.namespaced) return undefined;
  return { view: found, namespace, name };
}
