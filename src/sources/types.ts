/** Typed events and objects every source (folder, Kubernetes) produces. Kubernetes-shaped, not Kubernetes-typed. */

export interface ObjectRef {
  namespace: string;
  name: string;
}

export interface ConfigMapObject extends ObjectRef {
  labels: Record<string, string>;
  data: Record<string, string>;
  creationTimestamp: string;
  resourceVersion?: string;
  uid?: string;
  /** Where the object was read from, for error messages (a file path, or the API server). */
  origin: string;
}

export interface EndpointSlicePort {
  name?: string;
  port: number;
  protocol?: string;
}

export interface EndpointSliceEndpoint {
  addresses: string[];
  ready: boolean;
  serving: boolean;
  terminating: boolean;
  zone?: string;
  nodeName?: string;
  podName?: string;
}

export interface EndpointSliceObject extends ObjectRef {
  /** The kubernetes.io/service-name label. */
  serviceName: string;
  addressType: string;
  ports: EndpointSlicePort[];
  endpoints: EndpointSliceEndpoint[];
  origin: string;
}

/** A problem reading the source itself, by origin: a file, `file#document`, or a folder. */
export interface SourceReadError {
  origin: string;
  message: string;
}

/** Everything a source knows at one moment. Sources hand over whole worlds; the controller diffs. */
export interface SourceWorld {
  configMaps: ConfigMapObject[];
  endpointSlices: EndpointSliceObject[];
  /** Problems reading the source itself (unparseable YAML file, unknown kind), by origin. */
  readErrors: SourceReadError[];
}
