import protobuf from 'protobufjs';
import { Pieces } from './pieces.ts';

/*
 * Route configurations written around already-encoded Route messages: a repeated (or map) message field is
 * just its elements' bytes one after another, so a change to one model re-encodes that model's routes only,
 * however many models there are. Field numbers from route.proto, route_components.proto, xds matcher.proto,
 * extension.proto and any.proto.
 */

const LENGTH_DELIMITED = 2;

export interface VirtualHostHead {
  name: string;
  domains: readonly string[];
}

/** VirtualHost.name and .domains: what every virtual host here starts with. */
export function virtualHostHead(host: VirtualHostHead): Pieces {
  const pieces = new Pieces().field(1, host.name);
  for (const domain of host.domains) pieces.field(2, domain);
  return pieces;
}

/** RouteConfiguration{name, virtual_hosts: [host]}. */
export function routeConfiguration(name: string, virtualHost: Pieces): Pieces {
  return new Pieces().field(1, name).field(2, virtualHost);
}

/** Routes as VirtualHost.routes (field 3) or RouteList.routes (field 1): each one tagged, one after another. */
export const VIRTUAL_HOST_ROUTES = 3;
export const ROUTE_LIST_ROUTES = 1;

export function taggedRoutes(fieldNumber: number, routes: Iterable<Uint8Array>): Pieces {
  const pieces = new Pieces();
  for (const route of routes) pieces.field(fieldNumber, route);
  return pieces;
}

/** A RouteConfiguration with one virtual host whose routes are a plain list. */
export function routeConfigurationBytes(name: string, virtualHost: VirtualHostHead, routes: Iterable<Uint8Array>): Uint8Array {
  return routeConfiguration(name, virtualHostHead(virtualHost).append(taggedRoutes(VIRTUAL_HOST_ROUTES, routes))).finish();
}

const ROUTE_LIST_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteList';

/** Matcher.OnMatch{action: TypedExtensionConfig{name, typed_config: Any(RouteList{routes})}}; `routeList` is RouteList.routes as tagged fields. */
export function routeListOnMatch(actionName: string, routeList: Pieces): Pieces {
  const any = new Pieces().field(1, ROUTE_LIST_TYPE_URL).field(2, routeList);
  const action = new Pieces().field(1, actionName).field(2, any);
  return new Pieces().field(2, action);
}

export interface NamedRouteBytes {
  name: string;
  routes: readonly Uint8Array[];
}

/** One entry of MatcherTree.MatchMap.map (field 1, a map<string, OnMatch> entry), tag included. */
export function matchMapEntryBytes(entry: NamedRouteBytes): Pieces {
  return new Pieces().field(1, new Pieces().field(1, entry.name).field(2, routeListOnMatch(entry.name, taggedRoutes(ROUTE_LIST_ROUTES, entry.routes))));
}

/**
 * The one virtual host of a RouteConfiguration that selects routes by an exact-match map on a header
 * (VirtualHost.matcher): `input` is the encoded TypedExtensionConfig naming the header, `matchMap` the map
 * entries as written by matchMapEntryBytes, `fallback` RouteList.routes for when none matches.
 */
export function matcherVirtualHost(virtualHost: VirtualHostHead, input: Uint8Array, matchMap: Pieces, fallback: Pieces, hostRetryPolicy?: Uint8Array): Pieces {
  const tree = new Pieces().field(1, input).field(2, matchMap);
  const matcher = new Pieces().field(2, tree).field(3, routeListOnMatch('fallback', fallback));
  const host = virtualHostHead(virtualHost);
  if (hostRetryPolicy) host.field(16, hostRetryPolicy);
  return host.field(21, matcher);
}

export interface FieldSpan {
  number: number;
  /** The whole field, tag included. */
  raw: Uint8Array;
  /** For length-delimited fields, the value without tag and length. */
  value?: Uint8Array;
}

/** The top-level fields of an encoded message, in order, without decoding what is inside them. */
export function fieldsOf(bytes: Uint8Array): FieldSpan[] {
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

/** The value of a varint field (an enum, a small integer). */
export function varintOf(span: FieldSpan): number {
  const reader = protobuf.Reader.create(span.raw);
  reader.uint32();
  return reader.int32();
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
      return new Pieces().field(ROUTE_ACTION, action).finish();
    }),
  );
}
