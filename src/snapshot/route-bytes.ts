import protobuf from 'protobufjs';

/*
 * Route configurations written around already-encoded Route messages: a repeated (or map) message field is
 * just its elements' bytes one after another, so a change to one model re-encodes that model's routes only,
 * however many models there are. Field numbers from route.proto, route_components.proto, xds matcher.proto,
 * extension.proto and any.proto.
 */

const LENGTH_DELIMITED = 2;

function field(writer: protobuf.Writer, number: number): protobuf.Writer {
  return writer.uint32((number << 3) | LENGTH_DELIMITED);
}

function message(build: (writer: protobuf.Writer) => void): Uint8Array {
  const writer = protobuf.Writer.create();
  build(writer);
  return writer.finish();
}

export interface VirtualHostHead {
  name: string;
  domains: readonly string[];
}

function virtualHostHead(writer: protobuf.Writer, host: VirtualHostHead): void {
  field(writer, 1).string(host.name);
  for (const domain of host.domains) field(writer, 2).string(domain);
}

function routeConfiguration(name: string, virtualHost: Uint8Array): Uint8Array {
  return message((w) => {
    field(w, 1).string(name);
    field(w, 2).bytes(virtualHost);
  });
}

/** A RouteConfiguration with one virtual host whose routes are a plain list. */
export function routeConfigurationBytes(name: string, virtualHost: VirtualHostHead, routes: Iterable<Uint8Array>): Uint8Array {
  const host = message((w) => {
    virtualHostHead(w, virtualHost);
    for (const route of routes) field(w, 3).bytes(route);
  });
  return routeConfiguration(name, host);
}

const ROUTE_LIST_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteList';

/** Matcher.OnMatch{action: TypedExtensionConfig{name, typed_config: Any(RouteList{routes})}}. */
function routeListOnMatch(actionName: string, routes: readonly Uint8Array[]): Uint8Array {
  const routeList = message((w) => {
    for (const route of routes) field(w, 1).bytes(route);
  });
  const any = message((w) => {
    field(w, 1).string(ROUTE_LIST_TYPE_URL);
    field(w, 2).bytes(routeList);
  });
  const action = message((w) => {
    field(w, 1).string(actionName);
    field(w, 2).bytes(any);
  });
  return message((w) => field(w, 2).bytes(action));
}

export interface NamedRouteBytes {
  name: string;
  routes: readonly Uint8Array[];
}

/**
 * A RouteConfiguration whose one virtual host selects routes by an exact-match map on a header
 * (VirtualHost.matcher): `input` is the encoded TypedExtensionConfig naming the header, `named` the map
 * entries in order, `fallback` what runs when no entry matches.
 */
export function matcherRouteConfigurationBytes(
  name: string,
  virtualHost: VirtualHostHead,
  input: Uint8Array,
  named: Iterable<NamedRouteBytes>,
  fallback: readonly Uint8Array[],
  hostRetryPolicy?: Uint8Array,
): Uint8Array {
  const matchMap = message((w) => {
    for (const entry of named) {
      const onMatch = routeListOnMatch(entry.name, entry.routes);
      field(w, 1).fork();
      field(w, 1).string(entry.name);
      field(w, 2).bytes(onMatch);
      w.ldelim();
    }
  });
  const tree = message((w) => {
    field(w, 1).bytes(input);
    field(w, 2).bytes(matchMap);
  });
  const matcher = message((w) => {
    field(w, 2).bytes(tree);
    field(w, 3).bytes(routeListOnMatch('fallback', fallback));
  });
  const host = message((w) => {
    virtualHostHead(w, virtualHost);
    if (hostRetryPolicy) field(w, 16).bytes(hostRetryPolicy);
    field(w, 21).bytes(matcher);
  });
  return routeConfiguration(name, host);
}

interface FieldSpan {
  number: number;
  /** The whole field, tag included. */
  raw: Uint8Array;
  /** For length-delimited fields, the value without tag and length. */
  value?: Uint8Array;
}

function fieldsOf(bytes: Uint8Array): FieldSpan[] {
  const reader = protobuf.Reader.create(bytes);
  const spans: FieldSpan[] = [];
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const tag = reader.uint32();
    if ((tag & 7) === LENGTH_DELIMITED) {
      const value = reader.bytes();
      spans.push({ number: tag >>> 3, raw: bytes.subarray(start, reader.pos), value });
    } else {
      reader.skipType(tag & 7);
      spans.push({ number: tag >>> 3, raw: bytes.subarray(start, reader.pos) });
    }
  }
  return spans;
}

const ROUTE_ACTION = 2;
const RETRY_POLICY = 9;

/** The encoded RetryPolicy of a Route's RouteAction (Route.route.retry_policy), if it has one. */
export function routeRetryPolicy(route: Uint8Array): Uint8Array | undefined {
  const action = fieldsOf(route).find((f) => f.number === ROUTE_ACTION)?.value;
  return action && fieldsOf(action).find((f) => f.number === RETRY_POLICY)?.value;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

/** The same Route without its RouteAction's retry policy (which it then inherits from the virtual host). */
export function withoutRetryPolicy(route: Uint8Array): Uint8Array {
  return concat(
    fieldsOf(route).map((span) => {
      if (span.number !== ROUTE_ACTION || !span.value) return span.raw;
      const action = concat(fieldsOf(span.value).flatMap((f) => (f.number === RETRY_POLICY ? [] : [f.raw])));
      return concat([message((w) => field(w, ROUTE_ACTION).uint32(action.length)), action]);
    }),
  );
}
