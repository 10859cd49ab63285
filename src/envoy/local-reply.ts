import type { MeshSettings } from '../model/types.ts';

type Json = Record<string, unknown>;

/**
 * Error routes abort with a gRPC status through the fault filter, because proxyless gRPC clients reject
 * direct_response routes. For plain HTTP callers of the sidecar, these mappers turn that local reply into
 * the JSON 404 / 400 the routing contract promises. gRPC callers (content-type application/grpc...) keep the
 * gRPC status untouched.
 */
export function localReplyConfig(settings: MeshSettings): Json {
  const notGrpc = {
    header_filter: {
      header: { name: 'content-type', string_match: { prefix: 'application/grpc' }, invert_match: true },
    },
  };
  const faultInjected = { response_flag_filter: { flags: ['FI'] } };
  const modelHeaderPresent = { header_filter: { header: { name: settings.modelHeader, present_match: true } } };
  const model = `%REQ(${settings.modelHeader})%`;
  const version = `%REQ(${settings.versionHeader})%`;
  return {
    mappers: [
      {
        filter: { and_filter: { filters: [faultInjected, notGrpc, modelHeaderPresent] } },
        status_code: 404,
        body_format_override: {
          json_format: {
            error: 'model_not_found',
            model,
            version,
            message: `no model named "${model}" (version "${version}") is served here`,
          },
        },
      },
      {
        filter: { and_filter: { filters: [faultInjected, notGrpc] } },
        status_code: 400,
        body_format_override: {
          json_format: {
            error: 'model_header_required',
            path: '%REQ(:PATH)%',
            message: `set the ${settings.modelHeader} header (and optionally ${settings.versionHeader}), or call a /v1/models/M or /v2/models/M path of a known model`,
          },
        },
      },
    ],
  };
}
