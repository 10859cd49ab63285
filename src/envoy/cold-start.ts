import { splitBackends, hasHealthyEndpoint } from './route-action.ts';
import type { Backend, Model } from '../model/types.ts';
import { durationMessage } from '../util/duration.ts';
import type { ExtProcPerRoute, HttpFilter, Route, VirtualHost } from './messages.ts';
import { EXT_PROC_FILTER, XDS_CLUSTER } from './names.ts';
import { typedConfig } from './typed-config.ts';
import { COLD_START_HOLD_MAX_MS } from '../policy/schema.ts';

/** Response header of a held request that timed out: the model that had no ready pod. */
export const COLD_START_HEADER = 'x-infermesh-cold-start';
/** Request header the control plane adds to a request it held: how long, in ms (the pod sees it too). */
export const HELD_HEADER = 'x-infermesh-held-ms';
/**
 * How long Envoy waits for the control plane's first answer about a request. It answers at once (to extend
 * the wait for a hold, or to let the request go), so this bounds only an unreachable or stuck control plane:
 * the request then goes on as if there were no hold (failure_mode_allow).
 */
export const EXT_PROC_MESSAGE_TIMEOUT_MS = 1_000;
/** Time the control plane's answer may take beyond the longest hold (the 503 must reach Envoy before its own timeout). */
export const HOLD_ANSWER_SLACK_MS = 10_000;

/**
 * gRPC metadata on the hold stream of a version-pinned route: the version the request waits for. The route
 * knows it whether the caller pinned it by header or by a `/versions/V` path (which sets no header).
 */
export const HOLD_VERSION_METADATA = 'x-infermesh-hold-version';

/** Body modes default to NONE and trailer modes to SKIP; header modes default to SEND. */
const SKIP_ALL = { request_header_mode: 'SKIP', response_header_mode: 'SKIP' } as const;
const HEADERS_ONLY = { request_header_mode: 'SEND', response_header_mode: 'SKIP' } as const;

/**
 * The sidecar's ext_proc filter to the control plane, idle: its own processing mode skips everything, so it
 * opens no stream; only the tables of a coldStart model with no ready endpoint switch header processing on
 * (coldStartOverride), and the routes of a pinned version with none (coldStartVersionOverride), so a request
 * pays for the hop only while it would otherwise fail with "no healthy upstream". Not `disabled: true` with the tables enabling it: Envoy decides which disabled filters run when
 * it creates a request's filter chain, before the on-demand filter has loaded the model's table, so the
 * first request for a model on a sidecar would never be held (seen on 1.40.0). It rides the bootstrap's xDS
 * cluster (and its mTLS). Request headers only, and only the model, version and content-type headers are
 * forwarded (the answer differs for gRPC callers), with the sidecar's node id (attribute xds.node.id), so the
 * control plane can wait for that sidecar's own ACK. failure_mode_allow: a control plane that cannot be reached
 * lets the request go on as it would have without the hold. max_message_timeout lets the control plane
 * extend the wait to a hold's length (override_message_timeout), its first answer being due within
 * EXT_PROC_MESSAGE_TIMEOUT_MS. Never on the API listener: gRPC clients have no ext_proc.
 */
export function coldStartFilter(modelHeader: string, versionHeader: string): HttpFilter {
  const config = typedConfig('extProc', {
    grpc_service: { envoy_grpc: { cluster_name: XDS_CLUSTER } },
    failure_mode_allow: true,
    processing_mode: SKIP_ALL,
    message_timeout: durationMessage(EXT_PROC_MESSAGE_TIMEOUT_MS),
    max_message_timeout: durationMessage(COLD_START_HOLD_MAX_MS + HOLD_ANSWER_SLACK_MS),
    stat_prefix: 'infermesh_cold_start',
    request_attributes: ['xds.node.id'],
    forward_rules: { allowed_headers: { patterns: [{ exact: modelHeader }, { exact: versionHeader }, { exact: 'content-type' }] } },
  });
  return { name: EXT_PROC_FILTER, typed_config: config };
}

/** True while the model's split has no backend with a healthy endpoint: requests would fail at once. */
export function hasNoReadyEndpoint(model: Model): boolean {
  return !splitBackends(model).some(hasHealthyEndpoint);
}

/**
 * The per-filter config that enables the hold on a model's tables, while a coldStart model has no ready
 * endpoint; undefined otherwise, so the tables of a serving model carry nothing. Wrapped in an optional
 * FilterConfig: per-model proxyless targets read the same tables, and gRPC ignores an optional unknown
 * filter but NACKs a required one (gRFC A39). Error routes in the table are answered by the fault filter
 * before this one runs.
 */
export function coldStartOverride(model: Model): NonNullable<VirtualHost['typed_per_filter_config']> | undefined {
  if (!model.policy.coldStart || !hasNoReadyEndpoint(model)) return undefined;
  return optionalOverride({ overrides: { processing_mode: HEADERS_ONLY } });
}

/**
 * A version route's own switch, where it must differ from its table's: a pinned version with no ready pod
 * holds (naming the version), even while the split serves; a pinned version that has one skips the hold the
 * table switched on for the split. Undefined where the table's switch is right, so serving tables carry nothing.
 */
export function coldStartVersionOverride(model: Model, backend: Backend & { version: string }): NonNullable<Route['typed_per_filter_config']> | undefined {
  if (!model.policy.coldStart) return undefined;
  if (!hasHealthyEndpoint(backend)) {
    return optionalOverride({ overrides: { processing_mode: HEADERS_ONLY, grpc_initial_metadata: [{ key: HOLD_VERSION_METADATA, value: backend.version }] } });
  }
  return hasNoReadyEndpoint(model) ? optionalOverride({ overrides: { processing_mode: SKIP_ALL } }) : undefined;
}

function optionalOverride(perRoute: ExtProcPerRoute): NonNullable<Route['typed_per_filter_config']> {
  const config = typedConfig('extProcPerRoute', perRoute);
  return { [EXT_PROC_FILTER]: typedConfig('routeFilterConfig', { config, is_optional: true }) };
}
