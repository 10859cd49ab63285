import type { MeshSettings } from '../model/types.ts';
import type { AccessLog } from './messages.ts';
import { CLUSTER_METADATA_NAMESPACE } from './names.ts';
import { typedConfig } from './typed-config.ts';
import { flatStruct } from './wrappers.ts';

export const STDOUT_ACCESS_LOGGER = 'envoy.access_loggers.stdout';

/**
 * The sidecar's access log: one JSON object per request on Envoy's stdout (`kubectl logs -c infermesh-proxy`).
 * A field whose value is a single command keeps its type (numbers stay numbers); one with no value is null.
 * `model`/`version` are what the caller asked for (headers); the `upstream_*` fields are where the route sent
 * it, from the cluster's `infermesh` metadata, so a weighted split's choice and an alias's model show too.
 */
export function accessLogFormat(settings: MeshSettings): Record<string, string> {
  const upstream = (key: string) => `%CLUSTER_METADATA(${CLUSTER_METADATA_NAMESPACE}:${key})%`;
  return {
    start_time: '%START_TIME%',
    model: `%REQ(${settings.modelHeader})%`,
    version: `%REQ(${settings.versionHeader})%`,
    method: '%REQ(:METHOD)%',
    path: '%REQ(:PATH)%',
    protocol: '%PROTOCOL%',
    route: '%ROUTE_NAME%',
    upstream_model: upstream('model'),
    upstream_backend: upstream('backend'),
    upstream_version: upstream('version'),
    upstream_cluster: '%UPSTREAM_CLUSTER%',
    upstream_host: '%UPSTREAM_HOST%',
    response_code: '%RESPONSE_CODE%',
    grpc_status: '%GRPC_STATUS_NUMBER%',
    response_flags: '%RESPONSE_FLAGS%',
    attempts: '%UPSTREAM_REQUEST_ATTEMPT_COUNT%',
    duration_ms: '%DURATION%',
    bytes_received: '%BYTES_RECEIVED%',
    bytes_sent: '%BYTES_SENT%',
    request_id: '%REQ(X-REQUEST-ID)%',
  };
}

/** The HttpConnectionManager `access_log` list of the sidecar listener. */
export function sidecarAccessLog(settings: MeshSettings): AccessLog[] {
  return [
    {
      name: STDOUT_ACCESS_LOGGER,
      typed_config: typedConfig('stdoutAccessLog', { log_format: { json_format: flatStruct(accessLogFormat(settings)) } }),
    },
  ];
}
