import { DEFAULT_SETTINGS } from '../model/types.ts';

/**
 * What `infermesh inject` adds, and the names other parts of infermesh (and users' tooling) rely on.
 * Every default lives here, once.
 */

/** The Envoy image of the sidecar: distroless (no shell), runs as the `nonroot` user 65532. */
export const DEFAULT_ENVOY_IMAGE = 'envoyproxy/envoy:distroless-v1.40.0';
/** The control plane's ADS address: Service `infermesh` in `infermesh-system`, port `grpc-xds`. */
export const DEFAULT_XDS_ADDRESS = 'infermesh.infermesh-system.svc.cluster.local:18000';
/** The listener infermesh pushes to every sidecar: serve's --sidecar-port, whose default this is. */
export const DEFAULT_PROXY_PORT = DEFAULT_SETTINGS.sidecarListenerPort;
/** The bootstrap's static listener: /healthz/ready and /stats/prometheus. */
export const STATUS_PORT = 15021;
/** Envoy's admin interface, on loopback only. */
export const ADMIN_PORT = 9901;

export const SIDECAR_NAME = 'infermesh-proxy';
export const PROXY_PORT_NAME = 'infermesh-proxy';
/** Kubernetes port names are at most 15 characters (IANA service names): "infermesh-health" is one too many. */
export const STATUS_PORT_NAME = 'proxy-status';
export const BOOTSTRAP_VOLUME = 'infermesh-bootstrap';
export const BOOTSTRAP_CONFIGMAP = 'infermesh-envoy-bootstrap';
export const BOOTSTRAP_KEY = 'bootstrap.yaml';
export const BOOTSTRAP_MOUNT_PATH = '/etc/infermesh';
/** The environment variable that tells app containers where their sidecar listens. */
export const PROXY_ENV_VAR = 'INFERMESH_PROXY';

/** Pod (template) annotations. */
export const INJECTED_ANNOTATION = 'infermesh.io/injected';
export const INJECT_ANNOTATION = 'infermesh.io/inject';
/**
 * Pod (template) label: the control plane's NetworkPolicy (manifests/base/networkpolicy.yaml) lets pods
 * carrying it, in any namespace, reach the xDS port. Proxyless gRPC clients set it themselves.
 */
export const XDS_CLIENT_LABEL = 'infermesh.io/xds-client';
/** Marks the bootstrap ConfigMaps inject writes, so a later run may bring them up to date. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'infermesh-inject';

/**
 * native: the sidecar is an init container with `restartPolicy: Always` (Kubernetes 1.29+): it starts before
 * the app containers (they start once it has its first configuration), stops after them, and does not
 * keep a Job from completing. container: an ordinary container next to the app, for older clusters.
 */
export type SidecarMode = 'native' | 'container';

export interface ResourceQuantities {
  cpu: string;
  memory: string;
}

export interface XdsAddress {
  host: string;
  port: number;
}

export interface InjectOptions {
  xdsAddress: XdsAddress;
  image: string;
  proxyPort: number;
  /** Envoy worker threads; Envoy's own default is one per node CPU, whatever the pod's CPU limit. */
  concurrency: number;
  sidecarMode: SidecarMode;
  requests: ResourceQuantities;
  limits: ResourceQuantities;
  /** Written to the `infermesh.io/injected` annotation. */
  version: string;
  /** The text of envoy/bootstrap.yaml; the xDS address is written into it. */
  bootstrapTemplate: string;
  /**
   * TLS to the control plane: the Secret (keys tls.crt, tls.key, ca.crt) mounted into the sidecar, and the
   * name the control plane's certificate must carry. Without it, plain text.
   */
  xdsTls?: { secret: string; serverName: string };
}

export const DEFAULT_REQUESTS: ResourceQuantities = { cpu: '100m', memory: '128Mi' };
export const DEFAULT_LIMITS: ResourceQuantities = { cpu: '1', memory: '512Mi' };
export const DEFAULT_CONCURRENCY = 2;

/** `HOST:PORT` or `[IPv6]:PORT` given as `flag`; throws with a message naming what is wrong. */
export function parseHostPort(flag: string, text: string, example: string): XdsAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text);
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (!match || host === undefined || port < 1 || port > 65535) {
    throw new Error(`${flag} must be HOST:PORT (e.g. ${example}), got "${text}"`);
  }
  return { host, port };
}

export function parseXdsAddress(text: string): XdsAddress {
  return parseHostPort('--xds-address', text, DEFAULT_XDS_ADDRESS);
}

/** A TCP port number 1-65535 given on the command line. */
export function parsePort(flag: string, text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) throw new Error(`${flag} must be a port number 1-65535, got "${text}"`);
  return port;
}

/** A positive integer given on the command line. */
export function parsePositiveInteger(flag: string, text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1) throw new Error(`${flag} must be a whole number of at least 1, got "${text}"`);
  return value;
}

// Kubernetes resource.Quantity: a decimal number with an optional SI, binary or exponent suffix.
const QUANTITY = /^[+]?(\d+(\.\d*)?|\.\d+)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+)?$/;

/** A Kubernetes quantity such as 100m, 1, 0.5, 128Mi; throws otherwise. */
export function parseQuantity(flag: string, text: string): string {
  if (!QUANTITY.test(text)) throw new Error(`${flag} must be a Kubernetes quantity such as 100m, 1, 128Mi or 1Gi, got "${text}"`);
  return text;
}

export function parseSidecarMode(text: string): SidecarMode {
  if (text === 'native' || text === 'container') return text;
  throw new Error(`--sidecar-mode must be native or container, got "${text}"`);
}

/** Where apps send inference requests: the sidecar's listener on loopback. */
export function proxyUrl(options: Pick<InjectOptions, 'proxyPort'>): string {
  return `http://127.0.0.1:${options.proxyPort}`;
}
