import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FieldError } from '../../src/protobuf/field-error.ts';
import { decodeToJson, encodeProto3Json, fromProto3Json, toProto3Json } from '../support/proto3-json/index.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { CLUSTER_TYPE, HCM_URL, LISTENER_TYPE, REALISTIC_RESOURCES, ROUTE_TYPE } from './realistic-resources.ts';

let root: protobuf.Root;

/** Scalar shapes Envoy's resources rarely use, to pin down their JSON mapping. */
const TEST_PROTO = `
syntax = "proto3";
package infermesh.test;
import "google/protobuf/field_mask.proto";
message Json {
  float f = 1;
  map<int64, string> by_id = 2;
  map<int32, string> by_small = 3;
  optional int32 opt = 4;
  bytes raw = 5;
  google.protobuf.FieldMask mask = 6;
  double d = 7;
  repeated int64 ids = 8;
  sfixed64 sf = 9;
  uint64 u = 10;
}
`;

beforeAll(() => {
  root = loadEnvoyProtos();
  // FieldMask is not imported by the Envoy protos; add protobufjs' bundled copy for the test message.
  const fieldMask = protobuf.common.get('google/protobuf/field_mask.proto');
  if (fieldMask?.nested === undefined) throw new Error('protobufjs ships google/protobuf/field_mask.proto');
  root.addJSON(fieldMask.nested);
  protobuf.parse(TEST_PROTO, root, { keepCase: true });
  root.resolveAll();
});

const TEST = 'infermesh.test.Json';
const DURATION = 'google.protobuf.Duration';

function errorsOf(typeName: string, json: unknown): FieldError[] {
  return fromProto3Json(root, typeName, json).errors;
}

/** JSON -> message -> bytes -> message -> JSON. */
function roundTrip(typeName: string, json: unknown): unknown {
  const { bytes, errors } = encodeProto3Json(root, typeName, json);
  expect(errors).toEqual([]);
  if (bytes === undefined) throw new Error('unreachable: no bytes without errors');
  return decodeToJson(root, typeName, bytes);
}

describe('fromProto3Json: unknown fields', () => {
  const route = (header: Record<string, unknown>): unknown => ({
    virtual_hosts: [
      {
        name: 'v',
        domains: ['*'],
        routes: [0, 1, 2].map((i) => ({ match: { prefix: '/', headers: i === 2 ? [header] : [] }, route: { cluster: 'c' } })),
      },
    ],
  });

  it('names the full path, suggests the nearest field and lists the valid ones', () => {
    expect(errorsOf(ROUTE_TYPE, route({ nmae: 'x-model' }))).toEqual([
      {
        path: 'virtual_hosts[0].routes[2].match.headers[0].nmae',
        message: expect.stringMatching(
          /^unknown field \(did you mean "name"\?\); valid fields of envoy\.config\.route\.v3\.HeaderMatcher: name, exact_match, safe_regex_match, /,
        ),
      },
    ]);
  });

  const cases: Array<[string, string, unknown, string, string | undefined]> = [
    ['typo in a Cluster field', CLUSTER_TYPE, { name: 'c', conect_timeout: '1s' }, 'conect_timeout', 'connect_timeout'],
    ['wrong case and separators', CLUSTER_TYPE, { name: 'c', Connect_Timeout: '1s' }, 'Connect_Timeout', 'connect_timeout'],
    ['camelCase typo', CLUSTER_TYPE, { name: 'c', connectTimout: '1s' }, 'connectTimout', 'connect_timeout'],
    ['nothing close', CLUSTER_TYPE, { name: 'c', zzzzqqq: 1 }, 'zzzzqqq', undefined],
    ['inside an Any payload', LISTENER_TYPE, { filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': HCM_URL, stat_prefx: 's' } }] }] }, 'filter_chains[0].filters[0].typed_config.stat_prefx', 'stat_prefix'],
  ];

  it.each(cases)('%s', (_name, typeName, json, path, suggestion) => {
    const errors = errorsOf(typeName, json);
    expect(errors).toHaveLength(1);
    expect(errors[0]?.path).toBe(path);
    expect(errors[0]?.message.startsWith('unknown field')).toBe(true);
    if (suggestion === undefined) expect(errors[0]?.message).not.toContain('did you mean');
    else expect(errors[0]?.message).toContain(`(did you mean "${suggestion}"?)`);
  });

  it('rejects "@type" outside an Any', () => {
    expect(errorsOf(CLUSTER_TYPE, { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: 'c' })).toEqual([
      { path: '@type', message: '"@type" is only allowed in a google.protobuf.Any, and this is a envoy.config.cluster.v3.Cluster' },
    ]);
  });

  it('collects every error instead of stopping at the first', () => {
    const errors = errorsOf(CLUSTER_TYPE, { nam: 'c', connect_timeout: 'soon', lb_policy: 'FASTEST' });
    expect(errors.map((error) => error.path)).toEqual(['nam', 'connect_timeout', 'lb_policy']);
    expect(fromProto3Json(root, CLUSTER_TYPE, { nam: 'c' }).message).toBeUndefined();
  });
});

describe('fromProto3Json: field names', () => {
  it('accepts lowerCamelCase json names and prints original names', () => {
    const { message, errors } = fromProto3Json(root, CLUSTER_TYPE, { name: 'c', connectTimeout: '2s', lbPolicy: 'RING_HASH', perConnectionBufferLimitBytes: 32768 });
    expect(errors).toEqual([]);
    if (message === undefined) throw new Error('expected a message');
    expect(toProto3Json(root, CLUSTER_TYPE, message)).toEqual({
      name: 'c',
      connect_timeout: '2s',
      per_connection_buffer_limit_bytes: 32768,
      lb_policy: 'RING_HASH',
    });
  });

  it('rejects a field given under both of its names', () => {
    expect(errorsOf(CLUSTER_TYPE, { connect_timeout: '1s', connectTimeout: '2s' })).toEqual([
      { path: 'connect_timeout', message: 'set twice (as "connect_timeout" and "connectTimeout")' },
    ]);
  });
});

describe('fromProto3Json: wrong JSON types', () => {
  const cases: Array<[string, string, unknown, FieldError]> = [
    ['string expected', CLUSTER_TYPE, { name: 5 }, { path: 'name', message: 'expected a string, got number 5' }],
    ['message expected', CLUSTER_TYPE, { outlier_detection: 'yes' }, { path: 'outlier_detection', message: 'expected an object (envoy.config.cluster.v3.OutlierDetection), got string "yes"' }],
    ['duration as a number', CLUSTER_TYPE, { connect_timeout: 5 }, { path: 'connect_timeout', message: 'expected a duration string like "1.5s", got number 5' }],
    ['duration without unit', CLUSTER_TYPE, { connect_timeout: '5' }, { path: 'connect_timeout', message: 'expected a duration like "1.5s" or "0.250s", got "5"' }],
    ['duration with 10 fractional digits', CLUSTER_TYPE, { connect_timeout: '1.0000000001s' }, { path: 'connect_timeout', message: 'expected a duration like "1.5s" or "0.250s", got "1.0000000001s"' }],
    ['uint32 wrapper out of range', CLUSTER_TYPE, { per_connection_buffer_limit_bytes: -1 }, { path: 'per_connection_buffer_limit_bytes', message: 'expected an integer in [0, 4294967295] (uint32), got number -1' }],
    ['wrapper written as an object', CLUSTER_TYPE, { per_connection_buffer_limit_bytes: { value: 5 } }, { path: 'per_connection_buffer_limit_bytes', message: 'expected an integer in [0, 4294967295] (uint32), got an object; google.protobuf.UInt32Value is written as a bare value, not an object' }],
    ['unknown enum name with suggestion', CLUSTER_TYPE, { lb_policy: 'LEAST_REQUESTS' }, { path: 'lb_policy', message: expect.stringMatching(/^unknown value "LEAST_REQUESTS" for enum envoy\.config\.cluster\.v3\.Cluster\.LbPolicy; did you mean "LEAST_REQUEST"\?; valid values: ROUND_ROBIN, LEAST_REQUEST, /) }],
    ['enum as a boolean', CLUSTER_TYPE, { lb_policy: true }, { path: 'lb_policy', message: expect.stringMatching(/^expected an enum name \(ROUND_ROBIN, .*\) or number, got boolean true$/) }],
    ['array expected', CLUSTER_TYPE, { health_checks: {} }, { path: 'health_checks', message: 'expected an array, got an object' }],
    ['map expected', CLUSTER_TYPE, { typed_extension_protocol_options: [] }, { path: 'typed_extension_protocol_options', message: 'expected an object (map<string, google.protobuf.Any>), got an array' }],
    ['null inside a list', CLUSTER_TYPE, { health_checks: [null] }, { path: 'health_checks[0]', message: 'null is not allowed in a list' }],
    ['bool as a string', CLUSTER_TYPE, { respect_dns_ttl: 'true' }, { path: 'respect_dns_ttl', message: 'expected true or false, got string "true"' }],
    ['int64 out of range', ROUTE_TYPE, { virtual_hosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { host_selection_retry_max_attempts: '9223372036854775808' } } }] }] }, { path: 'virtual_hosts[0].routes[0].route.retry_policy.host_selection_retry_max_attempts', message: 'expected an integer in [-9223372036854775808, 9223372036854775807] as a string or number (int64), got string "9223372036854775808"' }],
    ['fractional integer', 'envoy.config.core.v3.SocketAddress', { address: '::', port_value: 80.5 }, { path: 'port_value', message: 'expected an integer in [0, 4294967295] (uint32), got number 80.5' }],
    ['bytes not base64', 'envoy.config.core.v3.HeaderValue', { key: 'k', raw_value: 'not base64!' }, { path: 'raw_value', message: 'expected a base64 string (bytes), got string "not base64!"' }],
    ['top level not an object', CLUSTER_TYPE, [], { path: '', message: 'expected an object (envoy.config.cluster.v3.Cluster), got an array' }],
  ];

  it.each(cases)('%s', (_name, typeName, json, expected) => {
    expect(errorsOf(typeName, json)).toEqual([expected]);
  });
});

describe('well-known types', () => {
  const durations: Array<[unknown, string]> = [
    ['1.5s', '1.500s'],
    ['0s', '0s'],
    ['300s', '300s'],
    ['0.000000001s', '0.000000001s'],
    ['0.25s', '0.250s'],
    ['0.0005s', '0.000500s'],
    ['-2.5s', '-2.500s'],
    [{ seconds: 2, nanos: 5_000_000 }, '2.005s'],
    [{ seconds: '315576000000' }, '315576000000s'],
  ];

  it.each(durations)('Duration %j is printed as %s', (json, canonical) => {
    expect(roundTrip(DURATION, json)).toBe(canonical);
  });

  it('Duration is seconds + nanos in the message', () => {
    const { message } = fromProto3Json(root, DURATION, '1.5s');
    expect(message?.toJSON()).toEqual({ seconds: '1', nanos: 500_000_000 });
  });

  const wrappers: Array<[string, unknown, unknown]> = [
    ['google.protobuf.UInt32Value', 5, 5],
    ['google.protobuf.UInt32Value', '7', 7],
    ['google.protobuf.BoolValue', false, false],
    ['google.protobuf.DoubleValue', 0.25, 0.25],
    ['google.protobuf.DoubleValue', 'Infinity', 'Infinity'],
    ['google.protobuf.StringValue', 'x', 'x'],
    ['google.protobuf.Int64Value', 123, '123'],
    ['google.protobuf.UInt64Value', '18446744073709551615', '18446744073709551615'],
    ['google.protobuf.BytesValue', 'aGk=', 'aGk='],
  ];

  it.each(wrappers)('%s written as %j prints as %j', (typeName, json, canonical) => {
    expect(roundTrip(typeName, json)).toEqual(canonical);
  });

  it('a wrapper holding the default value is still present in its parent', () => {
    const json = { name: 'c', per_connection_buffer_limit_bytes: 0, respect_dns_ttl: false, lb_policy: 'ROUND_ROBIN' };
    expect(roundTrip(CLUSTER_TYPE, json)).toEqual({ name: 'c', per_connection_buffer_limit_bytes: 0 });
  });

  it('Struct, Value and ListValue map to plain JSON', () => {
    const metadata = { filter_metadata: { infermesh: { s: 'x', n: 1.5, b: true, nil: null, list: [1, 'two', [false], { deep: {} }], obj: { a: [] } } } };
    expect(roundTrip('envoy.config.core.v3.Metadata', metadata)).toEqual(metadata);
  });

  it('FieldMask is a comma-separated camelCase string', () => {
    expect(roundTrip(TEST, { mask: 'virtualHosts,routes.routeName' })).toEqual({ mask: 'virtualHosts,routes.routeName' });
    const { message } = fromProto3Json(root, TEST, { mask: 'virtualHosts' });
    expect(message?.toJSON()).toEqual({ mask: { paths: ['virtual_hosts'] } });
  });
});

describe('google.protobuf.Any', () => {
  const filter = (typedConfig: unknown): unknown => ({ name: 'f', typed_config: typedConfig });
  const FILTER = 'envoy.config.listener.v3.Filter';

  it('round-trips a message payload with "@type" beside its fields', () => {
    const json = filter({ '@type': HCM_URL, stat_prefix: 'ingress', rds: { route_config_name: 'r', config_source: { ads: {} } } });
    expect(roundTrip(FILTER, json)).toEqual(json);
  });

  it('round-trips well-known payloads under "value", including an Any in an Any', () => {
    const json = {
      name: 'x',
      typed_config: {
        '@type': 'type.googleapis.com/google.protobuf.Any',
        value: { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1.500s' },
      },
    };
    expect(roundTrip('envoy.config.core.v3.TypedExtensionConfig', json)).toEqual(json);
    const struct = { name: 'x', typed_config: { '@type': 'type.googleapis.com/google.protobuf.Struct', value: { a: [1] } } };
    expect(roundTrip('envoy.config.core.v3.TypedExtensionConfig', struct)).toEqual(struct);
  });

  const cases: Array<[string, unknown, FieldError]> = [
    ['unknown type with suggestion', filter({ '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManagr' }), { path: 'typed_config.@type', message: expect.stringMatching(/^unknown type ".*HttpConnectionManagr": no message .* in the loaded protos; did you mean "type\.googleapis\.com\/envoy\.extensions\.filters\.network\.http_connection_manager\.v3\.HttpConnectionManager"\?$/) }],
    ['missing @type', filter({ stat_prefix: 'x' }), { path: 'typed_config.@type', message: 'required: a google.protobuf.Any needs "@type": "type.googleapis.com/<message name>"' }],
    ['not a type URL', filter({ '@type': 'HttpConnectionManager' }), { path: 'typed_config.@type', message: '"HttpConnectionManager" is not a type URL; expected "type.googleapis.com/<message name>"' }],
    ['extra field next to a WKT value', filter({ '@type': 'type.googleapis.com/google.protobuf.Duration', value: '1s', seconds: 1 }), { path: 'typed_config.seconds', message: 'unknown field; an Any holding google.protobuf.Duration has only "@type" and "value"' }],
    ['wrong type inside the payload', filter({ '@type': HCM_URL, stat_prefix: 1 }), { path: 'typed_config.stat_prefix', message: 'expected a string, got number 1' }],
  ];

  it.each(cases)('%s', (_name, json, expected) => {
    expect(errorsOf(FILTER, json)).toEqual([expected]);
  });
});

describe('oneofs', () => {
  it('rejects two members of one oneof', () => {
    expect(errorsOf('envoy.config.route.v3.RouteMatch', { prefix: '/', path: '/exact' })).toEqual([
      {
        path: 'path',
        message: 'cannot be set together with "prefix": only one of prefix, path, safe_regex, connect_matcher, path_separated_prefix, path_match_policy may be set (oneof path_specifier)',
      },
    ]);
  });

  it('treats a null member as unset', () => {
    expect(errorsOf('envoy.config.route.v3.RouteMatch', { prefix: '/', path: null })).toEqual([]);
  });

  it('keeps a member set to its default value (presence)', () => {
    expect(roundTrip('envoy.config.route.v3.RouteMatch', { prefix: '' })).toEqual({ prefix: '' });
    expect(roundTrip(CLUSTER_TYPE, { name: 'c', type: 'STATIC' })).toEqual({ name: 'c', type: 'STATIC' });
  });
});

describe('scalars', () => {
  it('prints enums by name, and unknown numbers as numbers (open enums)', () => {
    expect(roundTrip(CLUSTER_TYPE, { name: 'c', lb_policy: 1 })).toEqual({ name: 'c', lb_policy: 'LEAST_REQUEST' });
    expect(roundTrip(CLUSTER_TYPE, { name: 'c', lb_policy: 99 })).toEqual({ name: 'c', lb_policy: 99 });
  });

  it('omits proto3 defaults and keeps optional scalars that are set', () => {
    const json = { f: 0, d: 0, ids: [], raw: '', u: '0', opt: 0 };
    expect(roundTrip(TEST, json)).toEqual({ opt: 0 });
  });

  it('maps 64-bit integers, map keys, floats and bytes canonically', () => {
    const json = {
      f: 0.1,
      d: 'NaN',
      by_id: { '-5': 'a', '9007199254740993': 'b' },
      by_small: { '7': 'x' },
      raw: 'aGVsbG8',
      ids: ['1', 2],
      sf: '-9223372036854775808',
      u: 18446744073709551615n.toString(),
    };
    expect(roundTrip(TEST, json)).toEqual({
      f: 0.1,
      by_id: { '-5': 'a', '9007199254740993': 'b' },
      by_small: { '7': 'x' },
      raw: 'aGVsbG8=',
      d: 'NaN',
      ids: ['1', '2'],
      sf: '-9223372036854775808',
      u: '18446744073709551615',
    });
  });

  const cases: Array<[string, unknown, FieldError]> = [
    ['float out of range', { f: 1e39 }, { path: 'f', message: 'expected a number within float range, got number 1e+39' }],
    ['bad int32 map key', { by_small: { x: 'a' } }, { path: 'by_small["x"]', message: 'invalid map key for key type int32' }],
    ['uint64 negative', { u: '-1' }, { path: 'u', message: 'expected an integer in [0, 18446744073709551615] as a string or number (uint64), got string "-1"' }],
  ];

  it.each(cases)('%s', (_name, json, expected) => {
    expect(errorsOf(TEST, json)).toEqual([expected]);
  });
});

describe('round trip', () => {
  it.each(REALISTIC_RESOURCES)('%s: canonical form is a fixed point', (_name, typeName, make) => {
    const canonical = roundTrip(typeName, make());
    expect(roundTrip(typeName, canonical)).toEqual(canonical);
    const { message } = fromProto3Json(root, typeName, make());
    if (message === undefined) throw new Error('expected a message');
    expect(toProto3Json(root, typeName, message)).toEqual(canonical);
  });

  it('canonical form: snake_case names, durations with 0/3/6/9 digits, defaults dropped, Any inline', () => {
    const canonical = roundTrip(CLUSTER_TYPE, REALISTIC_RESOURCES[1]?.[2]());
    expect(canonical).toMatchObject({
      connect_timeout: '0.250s',
      lb_policy: 'LEAST_REQUEST',
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          explicit_http_config: { http2_protocol_options: { max_concurrent_streams: 100 } },
        },
      },
    });
    // priority DEFAULT is the enum's zero value: omitted.
    expect(canonical).toMatchObject({ circuit_breakers: { thresholds: [{ max_connections: 1024 }] } });
    expect(JSON.stringify(canonical)).not.toContain('priority');
    const listener = roundTrip(LISTENER_TYPE, REALISTIC_RESOURCES[0]?.[2]());
    expect(JSON.stringify(listener)).not.toContain('codec_type');
    expect(JSON.stringify(listener)).toContain('"stream_idle_timeout":"0s"');
  });

  it('decodes bytes written by protobufjs itself', () => {
    const type = root.lookupType(CLUSTER_TYPE);
    const bytes = type.encode(type.fromObject({ name: 'a', connect_timeout: { seconds: 1, nanos: 0 }, lb_policy: 'MAGLEV' })).finish();
    expect(decodeToJson(root, CLUSTER_TYPE, bytes)).toEqual({ name: 'a', connect_timeout: '1s', lb_policy: 'MAGLEV' });
  });

  it('prints an Any whose type is not loaded as @type + base64 value instead of throwing', () => {
    const any = root.lookupType('google.protobuf.Any').create({ type_url: 'type.googleapis.com/acme.Unknown', value: new Uint8Array([8, 1]) });
    const config = root.lookupType('envoy.config.core.v3.TypedExtensionConfig').create({ name: 'x', typed_config: any });
    expect(toProto3Json(root, 'envoy.config.core.v3.TypedExtensionConfig', config)).toEqual({
      name: 'x',
      typed_config: { '@type': 'type.googleapis.com/acme.Unknown', value: 'CAE=' },
    });
  });

  it('encodeProto3Json returns no bytes when there are errors', () => {
    expect(encodeProto3Json(root, CLUSTER_TYPE, { name: 1 })).toEqual({ errors: [{ path: 'name', message: 'expected a string, got number 1' }] });
  });
});
