import protobuf from 'protobufjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FieldError } from '../../src/protobuf/field-error.ts';
import { validateMessage } from '../../src/protobuf/pgv.ts';
import { fromProto3Json } from '../support/proto3-json/index.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { HCM_URL, REALISTIC_RESOURCES } from './realistic-resources.ts';

let root: protobuf.Root;

/**
 * Rules that the loaded Envoy protos do not exercise (or not in every combination), declared on a small
 * test message so every supported rule kind has a failing and a passing case.
 */
const TEST_PROTO = `
syntax = "proto3";
package infermesh.test;
import "google/protobuf/any.proto";
import "google/protobuf/duration.proto";
import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";

enum Color { COLOR_UNSET = 0; RED = 1; GREEN = 2; BLUE = 3; }

message Inner { string id = 1 [(validate.rules).string.min_len = 1]; }
message Off { option (validate.disabled) = true; string id = 1 [(validate.rules).string.min_len = 1]; }

message Rules {
  string prefixed = 1 [(validate.rules).string = {prefix: "m-", suffix: "-v", contains: "x", ignore_empty: true}];
  string scheme = 2 [(validate.rules).string = {in: ["http", "https"], ignore_empty: true}];
  string email = 3 [(validate.rules).string = {email: true, ignore_empty: true}];
  string hostname = 4 [(validate.rules).string = {hostname: true, ignore_empty: true}];
  string ip = 5 [(validate.rules).string = {ip: true, ignore_empty: true}];
  string uri = 6 [(validate.rules).string = {uri: true, ignore_empty: true}];
  string exact = 7 [(validate.rules).string = {len: 3, ignore_empty: true}];
  string strict_header = 8 [(validate.rules).string = {well_known_regex: HTTP_HEADER_NAME, ignore_empty: true}];
  string short_bytes = 9 [(validate.rules).string = {max_bytes: 4}];
  int64 outside = 10 [(validate.rules).int64 = {gt: 10, lt: 5}];
  sint32 even_small = 11 [(validate.rules).sint32 = {in: [0, 2, 4]}];
  uint64 big = 12 [(validate.rules).uint64 = {lte: 1000000000000, gte: 1000, ignore_empty: true}];
  float ratio = 13 [(validate.rules).float = {gte: 0, lt: 1}];
  fixed32 not_seven = 14 [(validate.rules).fixed32 = {not_in: [7]}];
  Color color = 15 [(validate.rules).enum = {defined_only: true, not_in: [3]}];
  repeated string tags = 16 [(validate.rules).repeated = {max_items: 3, unique: true, items: {string: {min_len: 2}}}];
  map<string, Inner> inners = 17 [(validate.rules).map = {max_pairs: 2, keys: {string: {pattern: "^[a-z]+$"}}}];
  google.protobuf.Duration timeout = 18 [(validate.rules).duration = {lte: {seconds: 60}, gte: {nanos: 1000000}}];
  google.protobuf.Timestamp not_before = 19 [(validate.rules).timestamp = {gt: {seconds: 946684800}}];
  google.protobuf.Any only_clusters = 20 [(validate.rules).any = {in: ["type.googleapis.com/envoy.config.cluster.v3.Cluster"]}];
  google.protobuf.Any no_listeners = 21 [(validate.rules).any = {not_in: ["type.googleapis.com/envoy.config.listener.v3.Listener"]}];
  Inner required_inner = 22 [(validate.rules).message.required = true];
  Inner skipped_inner = 23 [(validate.rules).message.skip = true];
  Off off = 24;
  google.protobuf.DoubleValue percent = 25 [(validate.rules).double = {gte: 0, lte: 100}];
  bytes blob = 26 [(validate.rules).bytes = {prefix: "ab", max_len: 4}];
  bool must_be_true = 27 [(validate.rules).bool.const = true];
  optional int32 opt = 28 [(validate.rules).int32.gt = 0];
  bytes digest = 29 [(validate.rules).bytes = {len: 2, ignore_empty: true}];
}
`;

beforeAll(() => {
  root = loadEnvoyProtos();
  protobuf.parse(TEST_PROTO, root, { keepCase: true });
  root.resolveAll();
});

/** Reads `json` strictly (it must be well-formed proto3 JSON) and validates the message. */
function validateJson(typeName: string, json: unknown): FieldError[] {
  const { message, errors } = fromProto3Json(root, typeName, json);
  expect(errors).toEqual([]);
  if (message === undefined) throw new Error('unreachable: no message without errors');
  return validateMessage(root, typeName, message);
}

const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const RULES = 'infermesh.test.Rules';
/** The rules message's fields without presence are checked even when unset (as PGV does): fill those. */
const VALID_RULES = { required_inner: { id: 'a' }, must_be_true: true, blob: 'YWI=' };

function listenerWithHcm(hcm: Record<string, unknown>): Record<string, unknown> {
  return { name: 'l', filter_chains: [{ filters: [{ name: 'hcm', typed_config: { '@type': HCM_URL, ...hcm } }] }] };
}

function endpoints(lbEndpoint: Record<string, unknown>): Record<string, unknown> {
  const endpoint = { address: { socket_address: { address: '10.0.0.1', port_value: 8500 } } };
  return { cluster_name: 'c', endpoints: [{ lb_endpoints: [{ endpoint, ...lbEndpoint }] }] };
}

describe('validateMessage on real Envoy types', () => {
  const cases: Array<[string, string, unknown, FieldError]> = [
    ['Cluster connect_timeout 0s fails duration.gt', CLUSTER, { name: 'c', connect_timeout: '0s' }, { path: 'connect_timeout', message: 'duration 0s must be greater than 0s' }],
    ['Cluster with an empty name fails string.min_len', CLUSTER, { connect_timeout: '1s' }, { path: 'name', message: 'must be at least 1 character (got 0)' }],
    ['Cluster dns_refresh_rate below 1ms', CLUSTER, { name: 'c', dns_refresh_rate: '0.0005s' }, { path: 'dns_refresh_rate', message: 'duration 0.000500s must be greater than 0.001s' }],
    ['Cluster type not defined in DiscoveryType', CLUSTER, { name: 'c', type: 42 }, { path: 'type', message: 'value 42 is not defined in enum DiscoveryType; valid values: STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST' }],
    ['PreconnectPolicy ratio (DoubleValue) outside [1, 3]', CLUSTER, { name: 'c', preconnect_policy: { per_upstream_preconnect_ratio: 0.5 } }, { path: 'preconnect_policy.per_upstream_preconnect_ratio', message: 'value 0.5 must be in range [1, 3]' }],
    ['RouteMatch without a path specifier fails the required oneof', 'envoy.config.route.v3.RouteMatch', { headers: [{ name: 'x-model', string_match: { exact: 'a' } }] }, { path: '', message: 'one of prefix, path, safe_regex, connect_matcher, path_separated_prefix, path_match_policy must be set (oneof path_specifier)' }],
    ['RouteMatch path_separated_prefix fails its pattern', 'envoy.config.route.v3.RouteMatch', { path_separated_prefix: '/models/' }, { path: 'path_separated_prefix', message: 'must match the pattern ^[^?#]+[^?#/]$ (got "/models/")' }],
    ['HeaderMatcher name with a newline fails HTTP_HEADER_NAME (strict: false)', 'envoy.config.route.v3.HeaderMatcher', { name: 'bad header\n', present_match: true }, { path: 'name', message: 'must be an HTTP header name without NUL, CR or LF characters (got "bad header\\n")' }],
    ['HeaderValue value with CRLF fails HTTP_HEADER_VALUE', 'envoy.config.core.v3.HeaderValue', { key: 'x-a', value: 'a\r\nb' }, { path: 'value', message: 'must be an HTTP header value without NUL, CR or LF characters (got "a\\r\\nb")' }],
    ['HCM inside a Listener filter typed_config Any with empty stat_prefix', 'envoy.config.listener.v3.Listener', listenerWithHcm({ rds: { route_config_name: 'r', config_source: { ads: {} } } }), { path: 'filter_chains[0].filters[0].typed_config.stat_prefix', message: 'must be at least 1 character (got 0)' }],
    ['LbEndpoint load_balancing_weight 0 fails uint32.gte 1', 'envoy.config.endpoint.v3.ClusterLoadAssignment', endpoints({ load_balancing_weight: 0 }), { path: 'endpoints[0].lb_endpoints[0].load_balancing_weight', message: 'value 0 must be greater than or equal to 1' }],
    ['Route without an action fails the required oneof', 'envoy.config.route.v3.Route', { match: { prefix: '/' } }, { path: '', message: expect.stringMatching(/^one of route, redirect, direct_response, .* must be set \(oneof action\)$/) }],
    ['RouteAction without a cluster specifier (nested path)', 'envoy.config.route.v3.Route', { match: { prefix: '/' }, route: { timeout: '1s' } }, { path: 'route', message: expect.stringMatching(/^one of cluster, cluster_header, weighted_clusters, .* must be set \(oneof cluster_specifier\)$/) }],
    ['WeightedCluster with no clusters fails repeated.min_items', 'envoy.config.route.v3.RouteAction', { weighted_clusters: { clusters: [] } }, { path: 'weighted_clusters.clusters', message: 'must have at least 1 item (got 0)' }],
    ['VirtualHost request_headers_to_remove item rules apply per element', 'envoy.config.route.v3.VirtualHost', { name: 'v', domains: ['*'], request_headers_to_remove: ['x-ok', ''] }, { path: 'request_headers_to_remove[1]', message: 'must be at least 1 character (got 0)' }],
    ['FilterChainMatch source_ports item range', 'envoy.config.listener.v3.FilterChainMatch', { source_ports: [80, 70000] }, { path: 'source_ports[1]', message: 'value 70000 must be in range [1, 65535]' }],
    ['HttpHealthCheck method CONNECT fails enum.not_in', 'envoy.config.core.v3.HealthCheck.HttpHealthCheck', { path: '/health', method: 'CONNECT' }, { path: 'method', message: 'value CONNECT must not be one of CONNECT' }],
    ['Metadata filter_metadata key fails map.keys', 'envoy.config.core.v3.Metadata', { filter_metadata: { '': { a: 1 } } }, { path: 'filter_metadata[""]', message: 'key must be at least 1 character (got 0)' }],
    ['TypedExtensionConfig without typed_config fails any.required', 'envoy.config.core.v3.TypedExtensionConfig', { name: 'x' }, { path: 'typed_config', message: 'required field not set' }],
    ['RetryBackOff without base_interval fails duration.required', 'envoy.config.route.v3.RetryPolicy', { retry_back_off: { max_interval: '1s' } }, { path: 'retry_back_off.base_interval', message: 'required field not set' }],
    ['ListenerFilterChainMatchPredicate any_match false fails bool.const', 'envoy.config.listener.v3.ListenerFilterChainMatchPredicate', { any_match: false }, { path: 'any_match', message: 'must be true' }],
    ['InternalRedirectPolicy response_headers_to_copy must be unique', 'envoy.config.route.v3.InternalRedirectPolicy', { response_headers_to_copy: ['x-a', 'x-b', 'x-a'] }, { path: 'response_headers_to_copy[2]', message: 'items must be unique; this repeats item [0]' }],
  ];

  it.each(cases)('%s', (_name, typeName, json, expected) => {
    expect(validateJson(typeName, json)).toEqual([expected]);
  });

  it.each(REALISTIC_RESOURCES)('a valid %s has no errors', (_name, typeName, make) => {
    expect(validateJson(typeName, make())).toEqual([]);
  });

  it('reports every failure, not only the first', () => {
    const errors = validateJson(CLUSTER, { connect_timeout: '0s', dns_refresh_rate: '0s' });
    expect(errors.map((error) => error.path)).toEqual(['name', 'connect_timeout', 'dns_refresh_rate']);
  });

  it('validates decoded bytes the same as messages read from JSON', () => {
    const json = endpoints({ load_balancing_weight: 0 });
    const type = root.lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment');
    const { message } = fromProto3Json(root, type.fullName, json);
    if (message === undefined) throw new Error('expected a message');
    const decoded = type.decode(type.encode(message).finish());
    expect(validateMessage(root, type.fullName, decoded)).toEqual(validateMessage(root, type.fullName, message));
    expect(validateMessage(root, type.fullName, decoded)).toHaveLength(1);
  });

  it('applies rules of a oneof member only when that member is set', () => {
    // RouteMatch.safe_regex carries message.required, yet a prefix match is valid.
    expect(validateJson('envoy.config.route.v3.RouteMatch', { prefix: '/' })).toEqual([]);
  });

  it('skips an Any whose payload type is not loaded', () => {
    const any = root.lookupType('google.protobuf.Any').create({ type_url: 'type.googleapis.com/acme.Unknown', value: new Uint8Array([8, 1]) });
    const config = root.lookupType('envoy.config.core.v3.TypedExtensionConfig').create({ name: 'x', typed_config: any });
    expect(validateMessage(root, 'envoy.config.core.v3.TypedExtensionConfig', config)).toEqual([]);
  });

  it('reports an Any payload that does not decode', () => {
    const any = root.lookupType('google.protobuf.Any').create({ type_url: HCM_URL, value: new Uint8Array([0x0a, 0x05, 0x61]) });
    const config = root.lookupType('envoy.config.core.v3.TypedExtensionConfig').create({ name: 'x', typed_config: any });
    const errors = validateMessage(root, 'envoy.config.core.v3.TypedExtensionConfig', config);
    expect(errors).toEqual([{ path: 'typed_config', message: expect.stringMatching(/^payload does not decode as envoy\.extensions\.filters\.network\.http_connection_manager\.v3\.HttpConnectionManager: /) }]);
  });

  it('throws for an unknown message type name (a programming error)', () => {
    expect(() => validateMessage(root, 'envoy.config.cluster.v3.Clustr', {})).toThrow(/no such type/);
  });
});

describe('validateMessage rule coverage (test message)', () => {
  const cases: Array<[string, Record<string, unknown>, FieldError | undefined]> = [
    ['string prefix', { prefixed: 'x-v' }, { path: 'prefixed', message: 'must start with "m-" (got "x-v")' }],
    ['string suffix', { prefixed: 'm-x' }, { path: 'prefixed', message: 'must end with "-v" (got "m-x")' }],
    ['string contains', { prefixed: 'm-a-v' }, { path: 'prefixed', message: 'must contain "x" (got "m-a-v")' }],
    ['string prefix+suffix+contains pass', { prefixed: 'm-x-v' }, undefined],
    ['string ignore_empty', { prefixed: '' }, undefined],
    ['string in', { scheme: 'ftp' }, { path: 'scheme', message: 'must be one of "http", "https" (got "ftp")' }],
    ['string in passes', { scheme: 'https' }, undefined],
    ['email', { email: 'ops@@example.com' }, { path: 'email', message: 'must be a valid email address (got "ops@@example.com")' }],
    ['email passes', { email: 'ops@example.com' }, undefined],
    ['hostname', { hostname: '-bad.example.com' }, { path: 'hostname', message: 'must be a valid hostname (got "-bad.example.com")' }],
    ['hostname passes', { hostname: 'tf-serving.models.svc.cluster.local' }, undefined],
    ['ip', { ip: '10.0.0.256' }, { path: 'ip', message: 'must be a valid IP address (got "10.0.0.256")' }],
    ['ipv6 passes as ip', { ip: 'fd00::1' }, undefined],
    ['uri', { uri: '/relative/path' }, { path: 'uri', message: 'must be an absolute URI (got "/relative/path")' }],
    ['uri passes', { uri: 'https://example.com/a?b=c' }, undefined],
    ['string len counts characters, not bytes', { exact: 'ñññ' }, undefined],
    ['string len', { exact: 'ab' }, { path: 'exact', message: 'must be exactly 3 characters (got 2)' }],
    ['strict HTTP_HEADER_NAME', { strict_header: 'x model' }, { path: 'strict_header', message: 'must be a valid HTTP header name (token characters, optionally a leading ":") (got "x model")' }],
    ['strict HTTP_HEADER_NAME passes pseudo-header', { strict_header: ':authority' }, undefined],
    ['max_bytes counts UTF-8 bytes', { short_bytes: 'ñññ' }, { path: 'short_bytes', message: 'must be at most 4 bytes (got 6)' }],
    ['reversed range gt 10, lt 5: inside fails', { outside: 7 }, { path: 'outside', message: 'value 7 must be less than 5 or greater than 10' }],
    ['reversed range: below passes', { outside: '-3' }, undefined],
    ['reversed range: above passes', { outside: 11 }, undefined],
    ['reversed range: bound itself fails', { outside: 10 }, { path: 'outside', message: 'value 10 must be less than 5 or greater than 10' }],
    ['sint32 in', { even_small: 3 }, { path: 'even_small', message: 'value 3 must be one of 0, 2, 4' }],
    ['uint64 gte with ignore_empty: 0 is skipped', { big: '0' }, undefined],
    ['uint64 gte', { big: '999' }, { path: 'big', message: 'value 999 must be in range [1000, 1000000000000]' }],
    ['uint64 lte', { big: '1000000000001' }, { path: 'big', message: 'value 1000000000001 must be in range [1000, 1000000000000]' }],
    ['uint64 compared exactly beyond 2^53', { big: '18446744073709551615' }, { path: 'big', message: 'value 18446744073709551615 must be in range [1000, 1000000000000]' }],
    ['uint64 in range passes', { big: 123456789 }, undefined],
    ['float half-open range', { ratio: 1 }, { path: 'ratio', message: 'value 1 must be in range [0, 1)' }],
    ['fixed32 not_in', { not_seven: 7 }, { path: 'not_seven', message: 'value 7 must not be one of 7' }],
    ['enum defined_only', { color: 9 }, { path: 'color', message: 'value 9 is not defined in enum Color; valid values: COLOR_UNSET, RED, GREEN, BLUE' }],
    ['enum not_in', { color: 'BLUE' }, { path: 'color', message: 'value BLUE must not be one of BLUE' }],
    ['repeated max_items', { tags: ['aa', 'bb', 'cc', 'dd'] }, { path: 'tags', message: 'must have at most 3 items (got 4)' }],
    ['repeated items', { tags: ['aa', 'b'] }, { path: 'tags[1]', message: 'must be at least 2 characters (got 1)' }],
    ['repeated unique', { tags: ['aa', 'aa'] }, { path: 'tags[1]', message: 'items must be unique; this repeats item [0]' }],
    ['map max_pairs', { inners: { a: { id: '1' }, b: { id: '2' }, c: { id: '3' } } }, { path: 'inners', message: 'must have at most 2 entries (got 3)' }],
    ['map keys pattern', { inners: { A: { id: '1' } } }, { path: 'inners["A"]', message: 'key must match the pattern ^[a-z]+$ (got "A")' }],
    ['map values are validated recursively', { inners: { a: { id: '' } } }, { path: 'inners["a"].id', message: 'must be at least 1 character (got 0)' }],
    ['duration lte', { timeout: '61s' }, { path: 'timeout', message: 'duration 61s must be in range [0.001s, 60s]' }],
    ['duration gte', { timeout: '0s' }, { path: 'timeout', message: 'duration 0s must be in range [0.001s, 60s]' }],
    ['duration passes', { timeout: '60s' }, undefined],
    ['timestamp gt', { not_before: '1999-12-31T23:59:59Z' }, { path: 'not_before', message: 'timestamp 1999-12-31T23:59:59Z must be greater than 2000-01-01T00:00:00Z' }],
    ['timestamp passes', { not_before: '2024-05-01T12:00:00.250Z' }, undefined],
    ['any.in rejects other types', { only_clusters: { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener', name: 'l' } }, { path: 'only_clusters', message: 'type "type.googleapis.com/envoy.config.listener.v3.Listener" is not allowed here; must be one of type.googleapis.com/envoy.config.cluster.v3.Cluster' }],
    ['any.in payload is validated', { only_clusters: { '@type': 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: '' } }, { path: 'only_clusters.name', message: 'must be at least 1 character (got 0)' }],
    ['any.not_in', { no_listeners: { '@type': 'type.googleapis.com/envoy.config.listener.v3.Listener' } }, { path: 'no_listeners', message: 'type "type.googleapis.com/envoy.config.listener.v3.Listener" is not allowed here' }],
    ['message.skip does not descend', { skipped_inner: { id: '' } }, undefined],
    ['validate.disabled message is not checked', { off: { id: '' } }, undefined],
    ['wrapper value range', { percent: 100.5 }, { path: 'percent', message: 'value 100.5 must be in range [0, 100]' }],
    ['wrapper holding 0 is checked', { percent: -1 }, { path: 'percent', message: 'value -1 must be in range [0, 100]' }],
    ['bytes prefix', { blob: 'eHk=' }, { path: 'blob', message: 'must start with 0x6162' }],
    ['bytes max_len', { blob: 'YWJjZGU=' }, { path: 'blob', message: 'must be at most 4 bytes (got 5)' }],
    ['bytes ignore_empty: empty is skipped', { digest: '' }, undefined],
    ['bytes len', { digest: 'YWJj' }, { path: 'digest', message: 'must be exactly 2 bytes (got 3)' }],
    ['proto3 optional rules apply when set', { opt: 0 }, { path: 'opt', message: 'value 0 must be greater than 0' }],
  ];

  it.each(cases)('%s', (_name, json, expected) => {
    expect(validateJson(RULES, { ...VALID_RULES, ...json })).toEqual(expected === undefined ? [] : [expected]);
  });

  it('message.required, bool.const and bytes.prefix on an otherwise empty message', () => {
    expect(validateJson(RULES, {})).toEqual([
      { path: 'required_inner', message: 'required field not set' },
      { path: 'blob', message: 'must start with 0x6162' },
      { path: 'must_be_true', message: 'must be true' },
    ]);
  });

  it('is repeatable and leaves the message untouched', () => {
    const { message } = fromProto3Json(root, RULES, { ...VALID_RULES, tags: ['aa', 'b'], timeout: '0s' });
    if (message === undefined) throw new Error('expected a message');
    const before = JSON.stringify(message.toJSON());
    const first = validateMessage(root, RULES, message);
    expect(first).toHaveLength(2);
    expect(validateMessage(root, RULES, message)).toEqual(first);
    expect(JSON.stringify(message.toJSON())).toBe(before);
  });
});
