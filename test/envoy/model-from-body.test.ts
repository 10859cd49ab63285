/**
 * Body routing builders (src/envoy/model-from-body.ts): the Lua sources, where the filters go in the sidecar
 * listener (and only while asked for), and what an opted-in model's tables carry. The Lua itself runs in
 * test/sidecar/model-from-body.test.ts, through real Envoys.
 */
import { describe, expect, it } from 'vitest';
import { apiListener, sidecarListener } from '../../src/envoy/listener.ts';
import {
  BODY_ERRORS,
  MODEL_SOURCE_HEADER,
  acceptBodyRouting,
  bodyRoutingGuardLua,
  luaString,
  modelFromBodyLua,
} from '../../src/envoy/model-from-body.ts';
import { BODY_ROUTING_GUARD_FILTER, MODEL_FROM_BODY_FILTER, ON_DEMAND_FILTER, ROUTER_FILTER } from '../../src/envoy/names.ts';
import { DEFAULT_SETTINGS, type MeshSettings } from '../../src/model/types.ts';

const CUSTOM: MeshSettings = { ...DEFAULT_SETTINGS, modelHeader: 'x-llm', versionHeader: 'x-llm-version' };

type Hcm = { http_filters: { name: string; typed_config: Record<string, unknown> }[]; local_reply_config?: { mappers: { status_code?: unknown; filter: unknown }[] } };
const isHcm = (config: unknown): config is Hcm => typeof config === 'object' && config !== null && 'http_filters' in config;
function hcm(listener: ReturnType<typeof sidecarListener>): Hcm {
  const config: unknown = listener.filter_chains?.[0]?.filters?.[0]?.typed_config ?? listener.api_listener?.api_listener;
  if (!isHcm(config)) throw new Error('no HTTP connection manager');
  return config;
}

/** Reads a Lua double-quoted literal as luaString writes it. */
function unLua(literal: string): string {
  return JSON.parse(literal.replace(/\\\\|\\"|\\n|\\r|\\0/g, (e) => ({ '\\\\': '\\\\', '\\"': '\\"', '\\n': '\\n', '\\r': '\\r', '\\0': '\\u0000' })[e] ?? e)) as string;
}

describe('the body-routing limit', () => {
  it('is the Lua filter\'s limit and, when raised over Envoy\'s 1 MiB default, the sidecar listener\'s buffer limit', () => {
    const raised: MeshSettings = { ...DEFAULT_SETTINGS, bodyRoutingLimitBytes: 8 * 1024 * 1024 };
    expect(modelFromBodyLua(raised)).toContain('local LIMIT = 8388608\n');
    expect(sidecarListener(raised, { bodyRouting: true }).per_connection_buffer_limit_bytes).toEqual({ value: 8 * 1024 * 1024 });
    // Without body routing, or at the default, the listener is as it was.
    expect(sidecarListener(raised, {}).per_connection_buffer_limit_bytes).toBeUndefined();
    expect(sidecarListener(DEFAULT_SETTINGS, { bodyRouting: true }).per_connection_buffer_limit_bytes).toBeUndefined();
  });
});

describe('luaString', () => {
  it('quotes and escapes so that any text survives', () => {
    expect(luaString('plain')).toBe('"plain"');
    expect(luaString('a "q" \\ b\nc\r\0')).toBe('"a \\"q\\" \\\\ b\\nc\\r\\0"');
    expect(unLua(luaString('a "q" \\ b\nc'))).toBe('a "q" \\ b\nc');
  });
});

describe('modelFromBodyLua', () => {
  it('reads the mesh\'s model header, the limit and the marker, and sets them', () => {
    const lua = modelFromBodyLua(CUSTOM);
    expect(lua).toContain('local MODEL_HEADER = "x-llm"\n');
    expect(lua).toContain(`local SOURCE_HEADER = "${MODEL_SOURCE_HEADER}"\n`);
    expect(lua).toContain(`local LIMIT = ${DEFAULT_SETTINGS.bodyRoutingLimitBytes}\n`);
    expect(lua).toContain('headers:replace(MODEL_HEADER, model)');
    expect(lua).toContain('headers:replace(SOURCE_HEADER, "body")');
    expect(lua).toContain('handle:clearRouteCache()');
    // It leaves a caller's headers alone when the model header is there (see the marker note in the source).
    expect(lua).not.toContain('headers:remove(');
    expect(modelFromBodyLua(CUSTOM)).toBe(lua);
  });

  it('answers every refusal with JSON naming the error and the mesh\'s header', () => {
    const lua = modelFromBodyLua(CUSTOM);
    const answers = new Map([...lua.matchAll(/^ {2}(\w+) = ("(?:[^"\\]|\\.)*"),$/gm)].map((m) => [m[1], JSON.parse(unLua(m[2] ?? '""')) as { error: string; message: string }]));
    expect([...answers.keys()].sort()).toEqual(['duplicate', 'invalid', 'missing', 'not_json', 'not_object', 'not_string', 'too_large']);
    expect(answers.get('not_json')?.error).toBe(BODY_ERRORS.notJson);
    expect(answers.get('too_large')?.error).toBe(BODY_ERRORS.tooLarge);
    for (const key of ['duplicate', 'invalid', 'missing', 'not_object', 'not_string']) expect(answers.get(key)?.error).toBe(BODY_ERRORS.noModel);
    expect(answers.get('missing')?.message).toContain('x-llm');
    expect(answers.get('too_large')?.message).toContain(String(DEFAULT_SETTINGS.bodyRoutingLimitBytes));
    // Every key the scanner can return has an answer.
    for (const problem of lua.matchAll(/return nil, "(\w+)"/g)) expect(answers.has(problem[1] ?? '')).toBe(true);
  });
});

describe('bodyRoutingGuardLua', () => {
  it('answers 400 JSON naming the model, and only for a routed request carrying the marker', () => {
    const lua = bodyRoutingGuardLua(CUSTOM);
    const template = unLua(/local TEMPLATE = ("(?:[^"\\]|\\.)*")/.exec(lua)?.[1] ?? '""');
    const answer = JSON.parse(template.replaceAll('%s', 'chat')) as Record<string, string>;
    expect(answer).toMatchObject({ error: BODY_ERRORS.notAccepted, model: 'chat' });
    expect(answer['message']).toContain('modelFromBody: true');
    expect(answer['message']).toContain('x-llm');
    expect(template.match(/%/g)).toHaveLength(2);
    expect(lua).toContain('if headers:get(SOURCE_HEADER) == nil then return end');
    expect(lua).toContain('routeName() == ""');
  });
});

describe('sidecar listener with and without body routing', () => {
  it('has no body filters and no 413 answer unless some policy asks', () => {
    const plain = hcm(sidecarListener(DEFAULT_SETTINGS));
    expect(plain.http_filters.map((f) => f.name)).not.toContain(MODEL_FROM_BODY_FILTER);
    expect(plain.http_filters.map((f) => f.name)).not.toContain(BODY_ROUTING_GUARD_FILTER);
    expect(JSON.stringify(plain.local_reply_config)).not.toContain(BODY_ERRORS.tooLarge);
    expect(sidecarListener(DEFAULT_SETTINGS, { bodyRouting: false })).toEqual(sidecarListener(DEFAULT_SETTINGS));
  });

  it('puts the body filter before on-demand and the guard after it, with the Lua sources for the settings', () => {
    const body = hcm(sidecarListener(CUSTOM, { bodyRouting: true }));
    const names = body.http_filters.map((f) => f.name);
    expect(names.slice(0, 3)).toEqual([MODEL_FROM_BODY_FILTER, ON_DEMAND_FILTER, BODY_ROUTING_GUARD_FILTER]);
    expect(names.at(-1)).toBe(ROUTER_FILTER);
    expect(body.http_filters[0]?.typed_config).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
      default_source_code: { inline_string: modelFromBodyLua(CUSTOM) },
      stat_prefix: 'model_from_body',
    });
    expect(body.http_filters[2]?.typed_config).toEqual({
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua',
      default_source_code: { inline_string: bodyRoutingGuardLua(CUSTOM) },
      stat_prefix: 'body_routing_guard',
    });
    // A chunked body over the limit, refused by Envoy while buffering, gets the same JSON answer.
    expect(JSON.stringify(body.local_reply_config?.mappers[0])).toContain(BODY_ERRORS.tooLarge);
  });

  it('never reaches the API listener proxyless gRPC clients read', () => {
    expect(hcm(apiListener('infermesh')).http_filters.map((f) => f.name)).toEqual(['envoy.filters.http.fault', ROUTER_FILTER]);
  });
});

describe('acceptBodyRouting', () => {
  it('switches the guard off (optional, so proxyless clients ignore it) and drops the marker before the upstream', () => {
    expect(acceptBodyRouting(true)).toEqual({
      request_headers_to_remove: [MODEL_SOURCE_HEADER],
      typed_per_filter_config: {
        [BODY_ROUTING_GUARD_FILTER]: {
          '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig',
          config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute', disabled: true },
          is_optional: true,
        },
      },
    });
    expect(acceptBodyRouting(false)).toBeUndefined();
  });
});
