import type { MeshSettings } from '../model/types.ts';
import { JSON_SCANNER_LUA, MODEL_NAME_MAX_LENGTH } from './model-from-body-json.ts';
import type { AccessLogFilter, HttpFilter, ResponseMapper, VirtualHost } from './messages.ts';
import { flatStruct } from './wrappers.ts';
import { BODY_ROUTING_GUARD_FILTER, MODEL_FROM_BODY_FILTER } from './names.ts';
import { typedConfig } from './typed-config.ts';

/**
 * Routing by the JSON body's top-level "model" (policy modelFromBody), for OpenAI-style callers
 * (/v1/chat/completions, /v1/completions, /v1/embeddings, Triton's OpenAI-compatible frontend) that send no
 * model header. Two Lua filters in the sidecar listener, there only while some policy asks for it:
 *
 * 1. model_from_body, first (before the on-demand filter, which loads a scope by the model header): a JSON
 *    request without the model header has its body buffered and scanned; a valid model name becomes the
 *    header, with the marker header saying where it came from, and the route cache is cleared so the scope is
 *    chosen again. The marker is never removed here: when on-demand CDS loads a cluster, Envoy recreates the
 *    stream and replays the headers this filter already changed, so the marker is how the guard still knows.
 *    (The marker header is reserved: a caller that sends it is taken as routing by body.)
 * 2. body_routing_guard, after routing: a request carrying the marker is answered 400 unless its model's
 *    tables switch the guard off (acceptBodyRouting), which only the tables of models whose policy enables
 *    modelFromBody do. So a model is never reached by body unless its own policy says so, and the tables of
 *    other models need nothing at all (they stay as they were).
 *
 * Lua rather than ext_proc: no extra hop or process (measured in bench/body-routing.ts).
 */

/** Request header the first filter sets with the model header (and the accepting tables remove): `body`. */
export const MODEL_SOURCE_HEADER = 'x-infermesh-model-source';

/**
 * The largest body scanned is settings.bodyRoutingLimitBytes, which is also the sidecar listener's buffer
 * limit (per connection, and so per request; Envoy's default 1 MiB unless raised). A larger Content-Length is
 * refused before buffering; a larger chunked body makes Envoy itself answer 413, which the listener's local
 * reply mapper words the same way (bodyRoutingMappers).
 */

/** The answers the Lua filters write themselves, by error code (README "Routing semantics"). */
export const BODY_ERRORS = {
  notJson: 'body_not_json',
  noModel: 'model_not_in_body',
  tooLarge: 'body_too_large',
  notAccepted: 'model_not_routable_by_body',
} as const;

/** A Lua string literal holding `text` (Lua's escapes; no long brackets, so any text is safe). */
export function luaString(text: string): string {
  return `"${text.replace(/[\\"\n\r\0]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\0': '\\0' })[c] ?? c)}"`;
}

const answer = (error: string, message: string) => luaString(JSON.stringify({ error, message }));

function tooLargeMessage(settings: MeshSettings): string {
  return `the JSON body is larger than ${settings.bodyRoutingLimitBytes} bytes, the most a sidecar reads to find its "model": set the ${settings.modelHeader} header instead`;
}

function messages(settings: MeshSettings) {
  const header = settings.modelHeader;
  return {
    notJson: answer(BODY_ERRORS.notJson, `the request says content-type application/json but its body is not valid JSON; send JSON with a top-level "model", or set the ${header} header`),
    notObject: answer(BODY_ERRORS.noModel, `the JSON body is not an object, so it has no top-level "model"; set the ${header} header`),
    missing: answer(BODY_ERRORS.noModel, `the JSON body has no top-level "model" and the request has no ${header} header: set one of them`),
    notString: answer(BODY_ERRORS.noModel, 'the top-level "model" of the JSON body is not a string'),
    duplicate: answer(BODY_ERRORS.noModel, 'the JSON body has more than one top-level "model"'),
    invalid: answer(BODY_ERRORS.noModel, `the top-level "model" of the JSON body is not a model name (1-${MODEL_NAME_MAX_LENGTH} letters, digits or . _ : / -, starting with a letter or digit)`),
    tooLarge: answer(BODY_ERRORS.tooLarge, tooLargeMessage(settings)),
  };
}

/**
 * The first filter's Lua. Returns at once, without buffering, when the request has the model header (sent
 * or taken from a /v1|v2/models/M path by the early header mutation), no JSON content-type (gRPC included)
 * or no body. Pure: the same settings give the same source, so the listener's bytes stay stable.
 */
export function modelFromBodyLua(settings: MeshSettings): string {
  const m = messages(settings);
  return `-- infermesh: route by the JSON body's top-level "model" (src/envoy/model-from-body.ts)
local MODEL_HEADER = ${luaString(settings.modelHeader)}
local SOURCE_HEADER = ${luaString(MODEL_SOURCE_HEADER)}
local LIMIT = ${settings.bodyRoutingLimitBytes}
local ANSWERS = {
  not_json = ${m.notJson},
  not_object = ${m.notObject},
  missing = ${m.missing},
  not_string = ${m.notString},
  duplicate = ${m.duplicate},
  invalid = ${m.invalid},
  too_large = ${m.tooLarge},
}
${JSON_SCANNER_LUA}
local function refuse(handle, status, key)
  handle:respond({ [":status"] = status, ["content-type"] = "application/json" }, ANSWERS[key])
end

function envoy_on_request(handle)
  local headers = handle:headers()
  if headers:get(MODEL_HEADER) ~= nil then return end
  local content_type = headers:get("content-type")
  if content_type == nil then return end
  local media = string.lower(string.match(content_type, "^[^;]*"))
  if string.match(media, "^%s*(.-)%s*$") ~= "application/json" then return end
  local declared = headers:get("content-length")
  if declared ~= nil and (tonumber(declared) or 0) > LIMIT then return refuse(handle, "413", "too_large") end
  local body = handle:body()
  if body == nil then return end
  local size = body:length()
  if size > LIMIT then return refuse(handle, "413", "too_large") end
  local model, problem = model_of(body:getBytes(0, size))
  if model == nil then return refuse(handle, "400", problem) end
  headers = handle:headers()
  headers:replace(MODEL_HEADER, model)
  headers:replace(SOURCE_HEADER, "body")
  -- Envoy 1.38-1.40 already clear the route cache when Lua changes a header (tested: routing works without
  -- this call); kept so the scope is chosen again even where that becomes opt-in.
  handle:clearRouteCache()
end
`;
}

/**
 * The guard's Lua: a request routed by body whose model's tables did not switch the guard off. The model
 * header was set by the first filter from a checked model name, so it is safe inside the JSON text.
 */
export function bodyRoutingGuardLua(settings: MeshSettings): string {
  const message = `model %s does not accept routing by the JSON body's "model" (its policy does not set modelFromBody: true): set the ${settings.modelHeader} header, or enable modelFromBody in its policy`;
  return `-- infermesh: refuse body routing to a model that did not opt in (src/envoy/model-from-body.ts)
local SOURCE_HEADER = ${luaString(MODEL_SOURCE_HEADER)}
local MODEL_HEADER = ${luaString(settings.modelHeader)}
local TEMPLATE = ${luaString(JSON.stringify({ error: BODY_ERRORS.notAccepted, model: '%s', message }))}

function envoy_on_request(handle)
  local headers = handle:headers()
  if headers:get(SOURCE_HEADER) == nil then return end
  -- No route (no table for this name): the router answers that the model is unknown.
  if handle:streamInfo():routeName() == "" then return end
  local model = headers:get(MODEL_HEADER) or ""
  handle:respond({ [":status"] = "400", ["content-type"] = "application/json" }, string.format(TEMPLATE, model, model))
end
`;
}

/** The filter name's stats: http.<hcm prefix>.lua.<stat prefix>.errors counts script errors. */
const luaFilter = (name: string, code: string, statPrefix: string): HttpFilter => ({
  name,
  typed_config: typedConfig('lua', { default_source_code: { inline_string: code }, stat_prefix: statPrefix }),
});

/** The first filter, to go before the on-demand filter. */
export function modelFromBodyFilter(settings: MeshSettings): HttpFilter {
  return luaFilter(MODEL_FROM_BODY_FILTER, modelFromBodyLua(settings), 'model_from_body');
}

/** The guard, to go after the on-demand filter (a route is chosen by then) and before the router. */
export function bodyRoutingGuardFilter(settings: MeshSettings): HttpFilter {
  return luaFilter(BODY_ROUTING_GUARD_FILTER, bodyRoutingGuardLua(settings), 'body_routing_guard');
}

/**
 * What the tables of a model with modelFromBody carry on their virtual host: the guard off (an optional
 * FilterConfig: the same tables reach proxyless gRPC clients, which implement no Lua and ignore an optional
 * override but NACK an unknown required one, gRFC A39), and the marker removed before the request goes
 * upstream. undefined for other models: their tables are left exactly as they were.
 */
export function acceptBodyRouting(enabled: boolean): Pick<VirtualHost, 'typed_per_filter_config' | 'request_headers_to_remove'> | undefined {
  if (!enabled) return undefined;
  return {
    request_headers_to_remove: [MODEL_SOURCE_HEADER],
    typed_per_filter_config: {
      [BODY_ROUTING_GUARD_FILTER]: typedConfig('routeFilterConfig', { config: typedConfig('luaPerRoute', { disabled: true }), is_optional: true }),
    },
  };
}

/**
 * A chunked body over the limit is refused by Envoy itself while the first filter buffers it (413, "Payload
 * Too Large"): the same JSON answer as the filter's own. Envoy answers 413 for nothing else a sidecar does.
 */
export function bodyTooLargeMapper(restCaller: AccessLogFilter, settings: MeshSettings): ResponseMapper {
  // op EQ, the default, is not written (see wrappers.ts on defaults).
  const tooLarge: AccessLogFilter = { status_code_filter: { comparison: { value: { default_value: 413, runtime_key: 'infermesh.local_reply.body_too_large' } } } };
  return {
    filter: { and_filter: { filters: [tooLarge, restCaller] } },
    body_format_override: { json_format: flatStruct({ error: BODY_ERRORS.tooLarge, message: tooLargeMessage(settings) }) },
  };
}
