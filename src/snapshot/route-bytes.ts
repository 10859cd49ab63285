import protobuf from 'protobufjs';
import { Pieces } from './pieces.ts';

/*
 * Route configurations written around already-encoded Route messages: a repeated (or map) message field is
 * just its elements' bytes one after another, so a change to one model re-encodes that model's routes only,
 * however many models there are. Field numbers from route.proto and route_components.proto.
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

/** Routes as VirtualHost.routes (field 3): each one tagged, one after another. */
export const VIRTUAL_HOST_ROUTES = 3;

export function taggedRoutes(fieldNumber: number, routes: Iterable<Uint8Array>): Pieces {
  const pieces = new Pieces();
  for (const route of routes) pieces.field(fieldNumber, route);
  return pieces;
}

/** A RouteConfiguration with one virtual host whose routes are a plain list. */
export function routeConfigurationBytes(name: string, virtualHost: VirtualHostHead, routes: Iterable<Uint8Array>): Uint8Array {
  return routeConfiguration(name, virtualHostHead(virtualHost).append(taggedRoutes(VIRTUAL_HOST_ROUTES, routes))).finish();
}

export interface NamedRouteBytes {
  name: string;
  routes: readonly Uint8Array[];
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
