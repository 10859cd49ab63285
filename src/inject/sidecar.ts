import {
  ADMIN_PORT,
  BOOTSTRAP_CONFIGMAP,
  BOOTSTRAP_KEY,
  BOOTSTRAP_MOUNT_PATH,
  BOOTSTRAP_VOLUME,
  type InjectOptions,
  PROXY_ENV_VAR,
  PROXY_PORT_NAME,
  SIDECAR_NAME,
  STATUS_PORT,
  STATUS_PORT_NAME,
  proxyUrl,
} from './options.ts';
import { XDS_TLS_MOUNT_PATH, XDS_TLS_VOLUME, type XdsClientTls } from './xds-tls.ts';

/**
 * The objects inject adds to a pod spec, as plain JSON. Pure: the same options give the same objects, which
 * is what makes injection idempotent (an existing sidecar equal to this one is left untouched).
 */

/**
 * A pod cannot read its node's labels through the downward API, but Kubernetes' PodTopologyLabels admission
 * plugin (KEP-4742: beta and on by default from 1.35, alpha behind the PodTopologyLabelsAdmission gate in
 * 1.33-1.34) copies this label from the node onto the pod when it is bound. Without it the variable is empty.
 */
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const ZONE_ENV_VAR = 'INFERMESH_ZONE';

const envoyUserId = 65532; // the `nonroot` user of the distroless Envoy image; Envoy writes no files

function readinessGet(): Record<string, unknown> {
  return { path: '/healthz/ready', port: STATUS_PORT };
}

/** The `infermesh-proxy` container (an init container with restartPolicy Always in native mode). */
export function sidecarContainer(options: InjectOptions): Record<string, unknown> {
  return {
    name: SIDECAR_NAME,
    image: options.image,
    args: [
      '-c', `${BOOTSTRAP_MOUNT_PATH}/${BOOTSTRAP_KEY}`,
      // Node cluster and id: what infermesh logs, and what CSDS and /status list per sidecar.
      '--service-cluster', '$(POD_NAMESPACE)',
      '--service-node', '$(POD_NAME).$(POD_NAMESPACE)',
      // node.locality.zone: the node's zone, so models with zoneFailover prefer endpoints in it. Empty (no
      // zone, every zone alike) where the pod does not carry the node's zone label (see ZONE_LABEL).
      '--service-zone', `$(${ZONE_ENV_VAR})`,
      // Warnings include rejected (NACKed) configuration, so those stay visible.
      '--log-level', 'warn',
      // ...except the "misc" logger's deprecation warnings: Envoy writes one line per deprecated field per
      // push (exact_match and total_weight, kept for gRPC 1.51; about 5 MB per route change at 1,000
      // models). runtime.deprecated_feature_use in /stats still counts them.
      '--component-log-level', 'misc:error',
      // Hot restart needs shared memory and is never used in a pod: the kubelet restarts containers.
      '--disable-hot-restart',
      '--concurrency', String(options.concurrency),
    ],
    ...(options.sidecarMode === 'native' ? { restartPolicy: 'Always' } : {}),
    env: [
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: ZONE_ENV_VAR, valueFrom: { fieldRef: { fieldPath: `metadata.labels['${ZONE_LABEL}']` } } },
    ],
    ports: [
      { name: PROXY_PORT_NAME, containerPort: options.proxyPort, protocol: 'TCP' },
      { name: STATUS_PORT_NAME, containerPort: STATUS_PORT, protocol: 'TCP' },
    ],
    resources: {
      requests: { cpu: options.requests.cpu, memory: options.requests.memory },
      limits: { cpu: options.limits.cpu, memory: options.limits.memory },
    },
    volumeMounts: [
      { name: BOOTSTRAP_VOLUME, mountPath: BOOTSTRAP_MOUNT_PATH, readOnly: true },
      ...(options.xdsTls ? [{ name: XDS_TLS_VOLUME, mountPath: XDS_TLS_MOUNT_PATH, readOnly: true }] : []),
    ],
    // Until the first configuration from infermesh has arrived (up to 10 minutes); in native mode the app
    // containers start only after this succeeds.
    startupProbe: { httpGet: readinessGet(), periodSeconds: 1, timeoutSeconds: 3, failureThreshold: 600 },
    // Unready while draining. No liveness probe: /ready also fails while draining, and a restart would
    // not help a sidecar that lost its control plane (it keeps serving its last configuration).
    readinessProbe: { httpGet: readinessGet(), periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 3 },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: envoyUserId,
      runAsGroup: envoyUserId,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}

/** The pod volume holding the bootstrap ConfigMap. */
export function bootstrapVolume(): Record<string, unknown> {
  return { name: BOOTSTRAP_VOLUME, configMap: { name: BOOTSTRAP_CONFIGMAP } };
}

/** The pod volume holding the sidecar's client certificate for the control plane (inject --xds-tls-secret). */
export function xdsTlsVolume(secret: string): Record<string, unknown> {
  return { name: XDS_TLS_VOLUME, secret: { secretName: secret } };
}

/**
 * The files the bootstrap reads, inside the sidecar: the Secret's keys at XDS_TLS_MOUNT_PATH, through the
 * SDS files the bootstrap ConfigMap carries next to bootstrap.yaml (so Envoy follows Secret updates).
 */
export function sidecarXdsTls(tls: { serverName: string }): XdsClientTls {
  return { caFile: `${XDS_TLS_MOUNT_PATH}/ca.crt`, certFile: `${XDS_TLS_MOUNT_PATH}/tls.crt`, keyFile: `${XDS_TLS_MOUNT_PATH}/tls.key`, serverName: tls.serverName, sdsDir: BOOTSTRAP_MOUNT_PATH };
}

/** Added to every app container: where to send inference requests (with an x-model header). */
export function proxyEnvVar(options: InjectOptions): Record<string, unknown> {
  return { name: PROXY_ENV_VAR, value: proxyUrl(options) };
}

/** Ports an app container must not use, since the sidecar shares its network namespace. */
export function sidecarPorts(options: InjectOptions): number[] {
  return [options.proxyPort, STATUS_PORT, ADMIN_PORT];
}
