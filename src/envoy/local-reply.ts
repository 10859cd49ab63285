import type { MeshSettings } from '../model/types.ts';
import type { AccessLogFilter, LocalReplyConfig, ResponseMapper } from './messages.ts';
import { GRPC_INVALID_ARGUMENT, GRPC_NOT_FOUND } from './error-routes.ts';
import { rateLimitMappers } from './rate-limit.ts';
import { bodyTooLargeMapper } from './model-from-body.ts';
import { upstreamErrorMappers } from './upstream-errors.ts';
import { flatStruct, uint32Value } from './wrappers.ts';

/**
 * Error routes abort through the fault filter, because proxyless gRPC clients reject direct_response routes.
 * Envoy answers such an abort with a bare "fault filter abort" (HTTP 200 text/plain for a grpc_status abort),
 * so these mappers write the answers the routing contract promises: for plain HTTP callers the JSON 404 /
 * 400, for gRPC callers (content-type application/grpc...) a grpc-message saying what was wrong (Envoy sends
 * a gRPC local reply's body as its grpc-message and keeps the aborted gRPC status). Then Envoy's other local
 * replies, as JSON for REST callers (src/envoy/upstream-errors.ts). First match wins.
 */
export function localReplyConfig(settings: MeshSettings, bodyRouting = false): LocalReplyConfig {
  // FI: an error route aborted (unknown version, unknown path version). NR: no scope for the model header's
  // value (an unknown model), or no header at all (neither sent nor found in a REST path).
  const faultInjected: AccessLogFilter = { response_flag_filter: { flags: ['FI', 'NR'] } };
  // A caller without any content-type (curl's GET, a health probe) is not a gRPC caller; without
  // treat_missing_header_as_empty an absent header matches neither this matcher nor its inversion.
  // invert_match false and op EQ are defaults, so not written (see wrappers.ts on defaults).
  const grpcCaller = (grpc: boolean): AccessLogFilter => ({
    header_filter: {
      header: {
        name: 'content-type',
        string_match: { prefix: 'application/grpc' },
        ...(grpc ? {} : { invert_match: true }),
        treat_missing_header_as_empty: true,
      },
    },
  });
  const present = (name: string): AccessLogFilter => ({ header_filter: { header: { name, present_match: true } } });
  const notFoundByPath: AccessLogFilter = { status_code_filter: { comparison: { value: { default_value: 404, runtime_key: 'infermesh.local_reply.path_not_found' } } } };
  const when = (...filters: AccessLogFilter[]): AccessLogFilter => ({ and_filter: { filters: [faultInjected, ...filters] } });

  const model = `%REQ(${settings.modelHeader})%`;
  const version = `%REQ(${settings.versionHeader})%`;
  const path = '%REQ(:PATH)%';
  const messages = {
    modelVersion: `no model named "${model}" with version "${version}" is served here`,
    model: `no model named "${model}" is served here`,
    path: `no model version at ${path} is served here`,
    header: `set the ${settings.modelHeader} header (and optionally ${settings.versionHeader}), or call a /v1/models/M or /v2/models/M path of a known model`,
    // gRPC methods have no model paths: only the header can name the model.
    grpcHeader: `the ${settings.modelHeader} header is required: set it to the model to call (and optionally ${settings.versionHeader} to pin a version)`,
  };
  const json = (status: number, body: Record<string, string>): ResponseMapper => ({ status_code: uint32Value(status), body_format_override: { json_format: flatStruct(body) } });
  const grpcMessage = (text: string): ResponseMapper => ({ body_format_override: { text_format_source: { inline_string: text } } });

  // Envoy gives a gRPC local reply the status its HTTP code maps to (404 -> UNIMPLEMENTED for NR); an
  // error route's abort carries its own. The header written here is the one the caller sees either way.
  const grpcAnswer = (text: string, grpcStatus: number): ResponseMapper => ({
    ...grpcMessage(text),
    headers_to_add: [{ header: { key: 'grpc-status', value: String(grpcStatus) }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
  });
  const aborted: AccessLogFilter = { response_flag_filter: { flags: ['FI'] } };

  return {
    mappers: [
      // A body over the limit Envoy itself refused while the body filter buffered it (model-from-body.ts).
      ...(bodyRouting ? [bodyTooLargeMapper(grpcCaller(false), settings)] : []),
      // An unknown /versions/V in a REST path: that route aborts with HTTP 404 itself (a grpc_status abort
      // answers a non-gRPC caller HTTP 200, and NR is not FI).
      { filter: { and_filter: { filters: [aborted, grpcCaller(false), notFoundByPath] } }, ...json(404, { error: 'model_not_found', path, message: messages.path }) },
      {
        filter: when(grpcCaller(false), present(settings.modelHeader), present(settings.versionHeader)),
        ...json(404, { error: 'model_not_found', model, version, message: messages.modelVersion }),
      },
      { filter: when(grpcCaller(false), present(settings.modelHeader)), ...json(404, { error: 'model_not_found', model, message: messages.model }) },
      { filter: when(grpcCaller(false)), ...json(400, { error: 'model_header_required', path, message: messages.header }) },
      { filter: when(grpcCaller(true), present(settings.modelHeader), present(settings.versionHeader)), ...grpcAnswer(messages.modelVersion, GRPC_NOT_FOUND) },
      { filter: when(grpcCaller(true), present(settings.modelHeader)), ...grpcAnswer(messages.model, GRPC_NOT_FOUND) },
      { filter: when(grpcCaller(true)), ...grpcAnswer(messages.grpcHeader, GRPC_INVALID_ARGUMENT) },
      // A model over its rate limit (429, RESOURCE_EXHAUSTED for gRPC: rate-limit.ts).
      ...rateLimitMappers(grpcCaller(false), grpcCaller(true)),
      // Envoy's own failures on a routed call (overflow, no healthy host, timeout, unreachable pod).
      ...upstreamErrorMappers(grpcCaller(false)),
    ],
  };
}
